/**
 * Group commit, shared by the durable backends: batches submitted while a commit is in flight
 * wait and go out together in the next one, in submission order. After a failed commit the
 * queue is fail-stop: that round, everything queued behind it, and every later batch fail, so
 * nothing is ever acknowledged on top of a write that may be missing.
 *
 * @module
 */

/**
 * Commits a round of batches. It may return follow-up work to run after the round's callers
 * are told it is durable, and before the next round starts (for example, garbage collection).
 */
export type CommitRound<B> = (round: readonly B[]) => Promise<void | (() => Promise<void>)>;

/** A queue of batches committed a round at a time. */
export class GroupCommit<B> {
  readonly #commit: CommitRound<B>;
  readonly #toError: (error: unknown) => Error;
  readonly #validate: (batch: B) => void;
  readonly #name: string;
  #closed = false;
  #queue: { batch: B; resolve: () => void; reject: (error: Error) => void }[] = [];
  #draining: Promise<void> | undefined;
  #failed: Error | undefined;

  /**
   * Creates the queue.
   *
   * @param options How to commit a round, check a batch, and report failures.
   */
  constructor(options: {
    /** Commits one round. */
    commit: CommitRound<B>;
    /** Turns a commit failure into the error every caller receives. */
    toError: (error: unknown) => Error;
    /** Throws for a batch that must be refused whole, before it is queued. */
    validate: (batch: B) => void;
    /** The store's name, for the error after `close`. */
    name: string;
  }) {
    this.#commit = options.commit;
    this.#toError = options.toError;
    this.#validate = options.validate;
    this.#name = options.name;
  }

  /** The error that stopped the queue, if one did. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Submits a batch; resolves once its round is durable. */
  submit(batch: B): Promise<void> {
    if (this.#closed) return Promise.reject(this.#toError(new Error(`${this.#name} is closed`)));
    if (this.#failed) return Promise.reject(this.#failed);
    try {
      this.#validate(batch);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  /**
   * Refuses new batches and waits for the submitted ones.
   *
   * @returns Whether this call closed it (false if it was closed already).
   */
  async close(): Promise<boolean> {
    if (this.#closed) return false;
    this.#closed = true;
    await this.#draining;
    return true;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#failed) {
        const round = this.#queue.splice(0);
        let followUp: void | (() => Promise<void>);
        try {
          followUp = await this.#commit(round.map((q) => q.batch));
        } catch (error) {
          this.#failed = this.#toError(error);
          for (const q of [...round, ...this.#queue.splice(0)]) q.reject(this.#failed);
          return;
        }
        for (const q of round) q.resolve();
        await followUp?.();
      }
    } finally {
      // Cleared in the same turn as the last queue check, so no batch can slip in between.
      this.#draining = undefined;
    }
  }
}
