// Logs, the host's telemetry and pgvault's metrics (docs/architecture.md, "Telemetry"), and three alerts: failed
// backup jobs (every failure counts once in `pgvault.job.failures` with its error code), the dead man's switch (no
// `pgvault.scheduler.heartbeat` for 15 minutes), and recovery-point objectives breached (`pgvault.rpo.breached`).
param namePrefix string
param location string
param tags object
@description('Where the alerts are mailed; empty: they fire in the portal only.')
param alertEmail string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-backup-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'pgvault'
    enabled: true
    emailReceivers: [{ name: 'backup-admins', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

// One alert per error code, so the mail names what failed (troubleshooting by code: docs/troubleshooting.md).
resource failedBackups 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-backup-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'pgvault: backup jobs failed'
    description: 'A pgvault backup job ended Failed. The dimension error_code is the spec error code; see docs/troubleshooting.md.'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pgvault.job.failures" | where tostring(customDimensions["operation"]) == "Backup" | extend error_code = tostring(customDimensions["error.code"]) | summarize failures = sum(valueSum) by error_code'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [{ name: 'error_code', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    // `!`: actionGroup is conditional (typed `| null`, BCP318); this branch only runs when it is deployed.
    actions: { actionGroups: empty(alertEmail) ? [] : [actionGroup!.id] }
  }
}

// The dead man's switch: each scheduler tick that runs to its end adds 1 to `pgvault.scheduler.heartbeat` (exported
// every minute), so none for 15 minutes means the app is down, its timers stopped, or every tick fails. `count()`
// without `by` answers one row even over no data (0 beats), so an absent metric fires the rule rather than leaving
// it with nothing to evaluate.
resource noHeartbeat 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-scheduler-heartbeat'
  location: location
  tags: tags
  properties: {
    displayName: 'pgvault: scheduler heartbeat missing'
    description: 'No pgvault scheduler tick completed for 15 minutes: no backups are being started. Check that the function app runs and its scheduler timer fires (docs/operations.md, "Dead man\'s switch").'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pgvault.scheduler.heartbeat" | summarize beats = count()'
          timeAggregation: 'Total'
          metricMeasureColumn: 'beats'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(alertEmail) ? [] : [actionGroup!.id] }
  }
}

// Instances past their recovery-point objective: the RPO checks add 1 to `pgvault.rpo.breached` (dimension
// `instanceName`) for each instance found Breached, so the alert names each instance.
resource rpoBreached 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-rpo-breached'
  location: location
  tags: tags
  properties: {
    displayName: 'pgvault: recovery-point objective breached'
    description: 'A pgvault instance has no Available recovery point within its RPO. The dimension instance_name names it; its health is in GET /api/backupInstances/{name}.'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pgvault.rpo.breached" | extend instance_name = tostring(customDimensions["instanceName"]) | summarize breaches = sum(valueSum) by instance_name'
          timeAggregation: 'Total'
          metricMeasureColumn: 'breaches'
          dimensions: [{ name: 'instance_name', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(alertEmail) ? [] : [actionGroup!.id] }
  }
}

output connectionString string = insights.properties.ConnectionString
output insightsName string = insights.name
