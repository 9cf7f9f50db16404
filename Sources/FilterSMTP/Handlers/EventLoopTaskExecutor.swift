import NIOCore

/// Runs a task's jobs on one NIO event loop: pass it as the executor preference of a task whose
/// work is mostly I/O on channels of that loop.
///
/// A session's task prefers the event loop of its connection, so the code that frames lines,
/// runs the state machine and builds replies runs on the thread that reads and writes the
/// socket, as do the default actors it calls (SE-0417): no thread switch, futex wake-up and
/// context switch per line or reply. Nothing in a session blocks; the spool's file I/O runs on
/// its own thread pool.
public final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    /// Creates an executor that runs jobs on `eventLoop`.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs the job on the event loop, after what the loop already has to do.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
