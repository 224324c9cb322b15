/**
 * A point at which a test holds the code under test: the held step calls `pass()` and waits there until the test
 * opens the gate. The test waits for `reached` (something is held), does what must happen meanwhile, then opens
 * it. Interleavings forced this way do not depend on timing.
 */
export interface StepGate {
  /** Settles once a step waits at the gate. */
  reached: Promise<void>;
  /** Called by the held step: resolves once the gate is open (at once, when it already is). */
  pass(): Promise<void>;
  open(): void;
}

export function stepGate(): StepGate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return {
    reached,
    pass() {
      arrive();
      return opened;
    },
    open: () => release(),
  };
}
