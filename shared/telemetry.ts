/**
 * pgvault's metrics for the Azure portal: what each finished job adds to Application Insights `customMetrics`, and
 * the scheduler's heartbeat.
 *
 * Exported through the Azure Monitor OpenTelemetry distro when APPLICATIONINSIGHTS_CONNECTION_STRING is set. The
 * Functions host already sends requests (one per invocation), traces (every `context.log` line) and its own
 * aggregates for that setting, so the worker adds metrics only: no live metrics, standard metrics, performance
 * counters, instrumentations or spans that would duplicate or multiply what the host sends. Without the setting
 * nothing starts, and the instruments below belong to the @opentelemetry/api no-op meter.
 */
import { diag, DiagLogLevel, metrics, type Counter, type DiagLogger, type Histogram, type MeterProvider } from "@opentelemetry/api";
import { getJob, type JobUpdate } from "./catalog/jobRows";
import { getConfig, type AppConfig } from "./config";
import type { Job, JobStatus } from "./domain";
import { ensureError } from "./errors";

export const meterName = "pgvault";

export const metricNames = {
  /** Histogram, bytes, one value per succeeded backup; attributes `instance`, `trigger`. */
  backupBytes: "pgvault.backup.bytes",
  /** Histogram, seconds from the job's start to its end; attributes `operation`, `status`, `trigger`. */
  jobDuration: "pgvault.job.duration",
  /** Counter, one per failed job; attributes `operation`, `error.code`. */
  jobFailures: "pgvault.job.failures",
  /** Counter, one per instance found Breached by each health evaluation (shared/rpo/healthStates.ts); attribute `instanceName`. */
  rpoBreached: "pgvault.rpo.breached",
  /**
   * Counter, one per scheduler tick that ran to its end: the dead man's switch. Its absence for 15 minutes fires the
   * alert in infra/ (the app down, its timers stopped, or every tick failing).
   */
  schedulerHeartbeat: "pgvault.scheduler.heartbeat",
} as const;

const finishedStatuses: readonly JobStatus[] = ["Succeeded", "Failed", "Cancelled"];

type AzureMonitorDistro = typeof import("@azure/monitor-opentelemetry");

/** OpenTelemetry's diagnostics (export failures, bad instruments) on the console, which the worker hands to the host log. */
const consoleDiagnostics: DiagLogger = {
  error: (message, ...args) => console.error(`[telemetry] ${message}`, ...args),
  warn: (message, ...args) => console.warn(`[telemetry] ${message}`, ...args),
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};

/** The distro while telemetry runs. */
let distro: AzureMonitorDistro | undefined;

/**
 * Starts the export when the connection string is configured; once per process. True when telemetry is running.
 * Called at app start (functions/startup.ts), after the configuration was read.
 */
export function startTelemetry(config: AppConfig = getConfig()): boolean {
  const connectionString = config.applicationInsightsConnectionString;
  if (distro || !connectionString) return distro !== undefined;
  const off = { enabled: false };
  // Loaded here, not at the top, so a worker without the setting never pays for it.
  const loaded = require("@azure/monitor-opentelemetry") as AzureMonitorDistro;
  loaded.useAzureMonitor({
    azureMonitorExporterOptions: { connectionString },
    enableLiveMetrics: false,
    enableStandardMetrics: false,
    enablePerformanceCounters: false,
    instrumentationOptions: {
      http: off, azureSdk: off, mongoDb: off, mySql: off, postgreSql: off, redis: off, redis4: off, bunyan: off, winston: off, console: off,
    },
    // The distro installs its Azure SDK tracing bridge whatever the options say; sampling every span out is what
    // keeps each storage and Key Vault call (progress writes, cancellation polls) from becoming dependency telemetry.
    samplingRatio: 0,
    tracesPerSecond: 0,
  });
  // useAzureMonitor resets the OpenTelemetry globals, its own diagnostic logger included: without this, a failing
  // export (wrong endpoint, refused key) would be silent. Warnings go to the worker's console, hence the host log.
  diag.setLogger(consoleDiagnostics, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  distro = loaded;
  return true;
}

/** Exports what is pending and stops; for the worker's shutdown (appTerminate) and tests. */
export async function stopTelemetry(): Promise<void> {
  const stopping = distro;
  distro = undefined;
  await stopping?.shutdownAzureMonitor();
}

/** Exports the metrics recorded so far now, instead of at the next export interval (60 s). */
export async function flushTelemetry(): Promise<void> {
  const provider: MeterProvider & { forceFlush?: () => Promise<void> } = metrics.getMeterProvider();
  await provider.forceFlush?.();
}

interface Instruments {
  backupBytes: Histogram;
  jobDuration: Histogram;
  jobFailures: Counter;
  rpoBreached: Counter;
  schedulerHeartbeat: Counter;
}

let instruments: { provider: MeterProvider; created: Instruments } | undefined;

/** Created from the global provider as it is now: the API hands out no proxy, so instruments made before start would stay no-ops. */
function currentInstruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider !== provider) {
    const meter = provider.getMeter(meterName);
    instruments = {
      provider,
      created: {
        backupBytes: meter.createHistogram(metricNames.backupBytes, { unit: "By", description: "Size of each successful backup" }),
        jobDuration: meter.createHistogram(metricNames.jobDuration, { unit: "s", description: "Duration of finished jobs" }),
        jobFailures: meter.createCounter(metricNames.jobFailures, { description: "Failed jobs by error code" }),
        rpoBreached: meter.createCounter(metricNames.rpoBreached, { description: "Instances found past their recovery-point objective, per evaluation" }),
        schedulerHeartbeat: meter.createCounter(metricNames.schedulerHeartbeat, { description: "Scheduler ticks that ran to their end" }),
      },
    };
  }
  return instruments.created;
}

function durationSeconds(job: Job): number | undefined {
  if (!job.endTime) return undefined;
  const ms = Date.parse(job.endTime) - Date.parse(job.startTime);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** Records everything that applies to a finished job row; a job that has not finished records nothing. */
export function recordJobFinished(job: Job): void {
  if (!finishedStatuses.includes(job.status)) return;
  const { backupBytes, jobDuration, jobFailures } = currentInstruments();
  const seconds = durationSeconds(job);
  if (seconds !== undefined) jobDuration.record(seconds, { operation: job.operation, status: job.status, trigger: job.trigger });
  if (job.status === "Failed") jobFailures.add(1, { operation: job.operation, "error.code": job.error?.code ?? "SystemErrorUnexpected" });
  if (job.status === "Succeeded" && job.operation === "Backup") backupBytes.record(job.bytes, { instance: job.instanceName, trigger: job.trigger });
}

/** One evaluation found the instance Breached: what an alert on RPO breaches counts (infra). */
export function recordRpoBreached(instanceName: string): void {
  currentInstruments().rpoBreached.add(1, { instanceName });
}

/** One scheduler tick ran to its end (functions/scheduler.ts). */
export function recordSchedulerHeartbeat(): void {
  currentInstruments().schedulerHeartbeat.add(1);
}

/**
 * After a job row update (the updateJob activity): when the update finished the job, records its metrics from the
 * row as stored, which holds what earlier updates wrote (start time, bytes, trigger). The catalog does not change a
 * finished job again, so the job counts only when the row holds this update's status and end time; a retried
 * activity whose first attempt got this far counts it once more. Best effort: it never throws (a metric must not
 * fail the job), and without telemetry it does not even read the row.
 */
export async function reportJobFinished(jobId: string, update: JobUpdate): Promise<void> {
  if (!distro || !update.status || !finishedStatuses.includes(update.status)) return;
  try {
    const job = await getJob(jobId);
    if (job?.status === update.status && (update.endTime === undefined || job.endTime === update.endTime)) recordJobFinished(job);
  } catch (err) {
    diag.warn(`metrics of job ${jobId} not recorded, its row could not be read (${ensureError(err).name})`);
  }
}
