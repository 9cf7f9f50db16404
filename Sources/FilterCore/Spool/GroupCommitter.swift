import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file to make durable and move into `queue/` in a sync batch.
struct CommitRequest: Sendable {
    /// A file in `tmp/`, written and still open; the committer syncs and closes it.
    struct StagedFile: Sendable {
        /// The open descriptor of `temporaryPath`.
        var descriptor: CInt
        /// Where the file was written.
        var temporaryPath: String
        /// Where it goes once durable.
        var finalPath: String
    }

    /// A new message body (`ID.msg`); `nil` when only the envelope file is rewritten.
    var message: StagedFile?
    /// The envelope and state file (`ID.env`), the record that makes the entry exist.
    var envelope: StagedFile
}

/// Group commit: makes the files of many concurrent commits durable with one sync round.
///
/// Leader/follower protocol, without a background task: the first caller that finds no batch
/// running becomes the leader and runs the batch for itself and everyone waiting; callers that
/// arrive meanwhile wait in `pending`. When a batch ends, the leader resumes its followers and
/// promotes the oldest caller still waiting to lead the next batch.
///
/// A batch, on the spool's thread pool:
/// 1. sync the data of every staged file (`fsync` each, or one `syncfs`);
/// 2. rename every `.msg` into `queue/`, then `fsync(queue/)`;
/// 3. rename every `.env` into `queue/`, then `fsync(queue/)`.
/// So a name in `queue/` always refers to durable data, and a durable `.env` always has its
/// durable `.msg` beside it.
actor GroupCommitter {
    /// How the data of a batch's files is made durable.
    private let syncMethod: SpoolConfiguration.SyncMethod
    private let maximumBatchSize: Int
    private let queueDirectory: String
    private let threadPool: NIOThreadPool

    private var pending: [Follower] = []
    private var leaderActive = false
    private var statistics = SpoolStatistics()

    private enum Role {
        case committed
        case leader
    }

    private struct Follower {
        var request: CommitRequest
        var continuation: CheckedContinuation<Role, any Error>
    }

    init(
        syncMethod: SpoolConfiguration.SyncMethod,
        maximumBatchSize: Int,
        queueDirectory: String,
        threadPool: NIOThreadPool
    ) {
        self.syncMethod = syncMethod
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.queueDirectory = queueDirectory
        self.threadPool = threadPool
    }

    /// The counters of commits and sync batches so far.
    var currentStatistics: SpoolStatistics { statistics }

    /// Makes `request` durable in `queue/`; returns only once it is. Closes the staged files'
    /// descriptors and, on failure, removes what it staged.
    func commit(_ request: CommitRequest) async throws(SpoolError) {
        if leaderActive {
            let role: Role
            do {
                role = try await withCheckedThrowingContinuation { pending.append(Follower(request: request, continuation: $0)) }
            } catch {
                throw error as? SpoolError ?? SpoolError(code: .ioFailure, message: "commit failed: \(error)")
            }
            switch role {
            case .committed:
                return
            case .leader:
                break
            }
        } else {
            leaderActive = true
        }
        let followers = Array(pending.prefix(maximumBatchSize - 1))
        pending.removeFirst(followers.count)
        let requests = [request] + followers.map(\.request)
        let outcomes = await runBatch(requests)
        statistics.syncBatches += 1
        statistics.commits += requests.count
        for (follower, outcome) in zip(followers, outcomes.dropFirst()) {
            follower.continuation.resume(with: outcome.map { Role.committed })
        }
        if pending.isEmpty {
            leaderActive = false
        } else {
            pending.removeFirst().continuation.resume(returning: .leader)
        }
        try outcomes[0].get()
    }

    /// Runs one batch on the thread pool. The work is submitted directly rather than through
    /// `runIfActive`, so cancelling the leader's task cannot abandon its followers' commits.
    private func runBatch(_ requests: [CommitRequest]) async -> [Result<Void, SpoolError>] {
        let syncMethod = syncMethod
        let queueDirectory = queueDirectory
        return await withCheckedContinuation { continuation in
            threadPool.submit { state in
                switch state {
                case .active:
                    continuation.resume(
                        returning: Self.perform(requests, syncMethod: syncMethod, queueDirectory: queueDirectory)
                    )
                case .cancelled:
                    let error = SpoolError(code: .ioFailure, message: "the spool thread pool is shut down")
                    for request in requests { Self.discard(request, messageRenamed: false) }
                    continuation.resume(returning: requests.map { _ in .failure(error) })
                }
            }
        }
    }

    /// The blocking part of a batch. Returns one outcome per request, in order.
    private static func perform(
        _ requests: [CommitRequest],
        syncMethod: SpoolConfiguration.SyncMethod,
        queueDirectory: String
    ) -> [Result<Void, SpoolError>] {
        var outcomes = [Result<Void, SpoolError>](repeating: .success(()), count: requests.count)
        var renamedMessages = Set<Int>()
        defer {
            for request in requests {
                if let message = request.message { close(message.descriptor) }
                close(request.envelope.descriptor)
            }
        }
        func failAll(_ error: SpoolError) -> [Result<Void, SpoolError>] {
            for (index, request) in requests.enumerated() {
                discard(request, messageRenamed: renamedMessages.contains(index))
            }
            return requests.map { _ in .failure(error) }
        }

        // 1. Data first: nothing may be renamed into queue/ before its bytes are durable.
        do {
            try syncData(of: requests, method: syncMethod, queueDirectory: queueDirectory)
        } catch {
            return failAll(error)
        }

        // 2. Message bodies, made durable under their final names before any envelope is.
        for (index, request) in requests.enumerated() {
            guard let message = request.message else { continue }
            do {
                try SpoolFiles.move(message.temporaryPath, to: message.finalPath)
                renamedMessages.insert(index)
            } catch {
                outcomes[index] = .failure(error)
            }
        }
        if !renamedMessages.isEmpty {
            do {
                try SpoolFiles.syncDirectory(queueDirectory)
            } catch {
                return failAll(error)
            }
        }

        // 3. Envelopes: each rename is the commit point of its entry.
        for (index, request) in requests.enumerated() where (try? outcomes[index].get()) != nil {
            do {
                try SpoolFiles.move(request.envelope.temporaryPath, to: request.envelope.finalPath)
            } catch {
                outcomes[index] = .failure(error)
            }
        }
        do {
            try SpoolFiles.syncDirectory(queueDirectory)
        } catch {
            // Unknown whether the renames are durable: withdraw the new entries so that the
            // sender's retry after our 4xx does not produce a duplicate.
            for request in requests where request.message != nil {
                SpoolFiles.unlinkIfPresent(request.envelope.finalPath)
            }
            return failAll(error)
        }
        for index in outcomes.indices where (try? outcomes[index].get()) == nil {
            discard(requests[index], messageRenamed: renamedMessages.contains(index))
        }
        return outcomes
    }

    private static func syncData(
        of requests: [CommitRequest],
        method: SpoolConfiguration.SyncMethod,
        queueDirectory: String
    ) throws(SpoolError) {
        if method == .syncFileSystem, try SpoolFiles.syncFileSystem(containing: queueDirectory) {
            return
        }
        for request in requests {
            if let message = request.message { SpoolFiles.startWriteback(message.descriptor) }
            SpoolFiles.startWriteback(request.envelope.descriptor)
        }
        for request in requests {
            if let message = request.message {
                try SpoolFiles.sync(message.descriptor, path: message.temporaryPath)
            }
            try SpoolFiles.sync(request.envelope.descriptor, path: request.envelope.temporaryPath)
        }
    }

    /// Removes the staged files of a failed request, and its message body if that was already
    /// renamed into `queue/` (the envelope did not make it, so nobody refers to the body).
    private static func discard(_ request: CommitRequest, messageRenamed: Bool) {
        if let message = request.message {
            SpoolFiles.unlinkIfPresent(message.temporaryPath)
            if messageRenamed { SpoolFiles.unlinkIfPresent(message.finalPath) }
        }
        SpoolFiles.unlinkIfPresent(request.envelope.temporaryPath)
    }
}
