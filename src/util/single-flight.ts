/**
 * Runs an async job so that it never overlaps itself: a trigger while it runs
 * asks for one more run afterwards (triggers coalesce), and every caller's
 * promise settles after a run that started after its trigger.
 */
export class SingleFlight<T> {
  private running?: Promise<T>;
  private queued?: Promise<T>;

  constructor(private readonly job: () => Promise<T>) {}

  trigger(): Promise<T> {
    if (!this.running) {
      this.running = this.job().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (!this.queued) {
      const after = this.running.then(
        () => undefined,
        () => undefined,
      );
      this.queued = after.then(() => {
        this.queued = undefined;
        return this.trigger();
      });
    }
    return this.queued;
  }

  /** Resolves when no run is in progress or queued. */
  async idle(): Promise<void> {
    while (this.running || this.queued) await (this.queued ?? this.running)!.catch(() => undefined);
  }
}
