/**
 * Turns of the event loop for work that can be large (a read that lists the whole database):
 * each waiter gets its own turn, one per pass of the loop's timer phase, so the consensus tick —
 * a timer too — always gets in between, however many such requests resume at once (as they do,
 * together, when one read barrier completes for all of them).
 */
export class LoopTurns {
  private readonly waiting: (() => void)[] = []
  private scheduled = false

  take(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return
    this.scheduled = true
    setTimeout(() => {
      this.scheduled = false
      this.waiting.shift()?.()
      this.schedule()
    }, 0)
  }
}
