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
  #queue: { batch: B; resolve: () => void; reject: (error: Error) => void }[] = [];
  #draining: Promise<void> | undefined;
  #failed: Error | undefined;

  /**
   * Creates the queue.
   *
   * @param commit Commits one round.
   * @param toError Turns a commit failure into the error every caller receives.
   */
  constructor(commit: CommitRound<B>, toError: (error: unknown) => Error) {
    this.#commit = commit;
    this.#toError = toError;
  }

  /** The error that stopped the queue, if one did. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Submits a batch; resolves once its round is durable. */
  submit(batch: B): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  /** Resolves when every submitted batch has been committed or failed. */
  async idle(): Promise<void> {
    await this.#draining;
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
