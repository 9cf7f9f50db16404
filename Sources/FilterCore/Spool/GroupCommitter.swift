import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file to make durable and move into `queue/` in a sync batch.
struct CommitRequest: Sendable {
    /// A file to place in `queue/` by way of `tmp/`.
    struct StagedFile: Sendable {
        /// What the file holds.
        enum Content: Sendable {
            /// Already written to `temporaryPath` and still open; the committer syncs and closes it.
            case written(descriptor: CInt)
            /// Not written yet: the batch creates `temporaryPath` with these bytes, so a small
            /// message costs no thread-pool round trip of its own before its batch.
            case bytes(ByteBuffer)
        }

        /// The file's content.
        var content: Content
        /// Where the file is (or will be) written.
        var temporaryPath: String
        /// Where it goes once durable.
        var finalPath: String
    }

    /// A new message body (`ID.msg`); `nil` when only the envelope file is rewritten.
    var message: StagedFile?
    /// The envelope and state file (`ID.env`), the record that makes the entry exist.
    var envelope: StagedFile
    /// For an envelope rewrite: the body that must still exist, so that an update cannot
    /// resurrect a removed entry.
    var requiredMessagePath: String?
}

/// The removal of a message whose recipients are all final.
struct RemovalRequest: Sendable {
    /// `queue/ID.env`, unlinked first.
    var envelopePath: String
    /// `queue/ID.msg`, unlinked second.
    var messagePath: String
}

/// Group commit: makes the files of many concurrent commits durable with one sync round, and
/// carries out removals in the same thread-pool job.
///
/// Leader/follower protocol, without a background task: the first caller that finds no batch
/// running becomes the leader and runs the batch for itself and everyone waiting; callers that
/// arrive meanwhile wait in `pending`. When a batch ends, the leader resumes its followers and
/// promotes the oldest caller still waiting to lead the next batch.
///
/// A batch, on the spool's thread pool:
/// 0. unlink the files of every removal (`ID.env` first), and create the staged files whose
///    bytes are still in memory;
/// 1. sync the data of every staged file (`fsync` each, or one `syncfs`);
/// 2. rename every `.msg` into `queue/`, then `fsync(queue/)`;
/// 3. rename every `.env` into `queue/`, then `fsync(queue/)`.
/// So a name in `queue/` always refers to durable data, and a durable `.env` always has its
/// durable `.msg` beside it. A batch of removals only syncs nothing: removal needs no sync
/// (`docs/spool.md`), though a batch that also commits makes its unlinks durable too.
actor GroupCommitter {
    /// How the data of a batch's files is made durable.
    private let syncMethod: SpoolConfiguration.SyncMethod
    private let maximumBatchSize: Int
    private let queueDirectory: String
    private let threadPool: NIOThreadPool
    private let recycledFiles: RecycledFiles

    private var pending: [Follower] = []
    private var leaderActive = false
    private var statistics = SpoolStatistics()

    /// One piece of work in a batch.
    enum Work: Sendable {
        case commit(CommitRequest)
        case removal(RemovalRequest)
    }

    private enum Role {
        case done
        case leader
    }

    private struct Follower {
        var work: Work
        var continuation: CheckedContinuation<Role, any Error>
    }

    init(
        syncMethod: SpoolConfiguration.SyncMethod,
        maximumBatchSize: Int,
        queueDirectory: String,
        threadPool: NIOThreadPool,
        recycledFiles: RecycledFiles
    ) {
        self.syncMethod = syncMethod
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.queueDirectory = queueDirectory
        self.threadPool = threadPool
        self.recycledFiles = recycledFiles
    }

    /// The counters of commits and sync batches so far.
    var currentStatistics: SpoolStatistics { statistics }

    /// Carries out `work` in a batch; returns once it is done (for a commit: durable in
    /// `queue/`). Closes the staged files' descriptors and, on failure, removes what it staged.
    func run(_ work: Work) async throws(SpoolError) {
        if leaderActive {
            let role: Role
            do {
                role = try await withCheckedThrowingContinuation { pending.append(Follower(work: work, continuation: $0)) }
            } catch {
                throw error as? SpoolError ?? SpoolError(code: .ioFailure, message: "spool batch failed: \(error)")
            }
            switch role {
            case .done:
                return
            case .leader:
                break
            }
        } else {
            leaderActive = true
        }
        let followers = Array(pending.prefix(maximumBatchSize - 1))
        pending.removeFirst(followers.count)
        let batch = [work] + followers.map(\.work)
        let outcomes = await runBatch(batch)
        let commits = batch.count(where: { if case .commit = $0 { true } else { false } })
        if commits > 0 {
            statistics.syncBatches += 1
            statistics.commits += commits
        }
        for (follower, outcome) in zip(followers, outcomes.dropFirst()) {
            follower.continuation.resume(with: outcome.map { Role.done })
        }
        if pending.isEmpty {
            leaderActive = false
        } else {
            pending.removeFirst().continuation.resume(returning: .leader)
        }
        try outcomes[0].get()
    }

    /// The most thread-pool jobs that sync one batch's files side by side, and the fewest files
    /// each job syncs (waking a thread costs more than syncing a file after another).
    private static let parallelSyncJobs = 8
    private static let filesPerSyncJob = 4

    /// Runs one batch on the thread pool, in three steps: removals and writing the staged
    /// files (one job); syncing their data (up to `parallelSyncJobs` jobs side by side, so the
    /// disk's cache flushes of concurrent syncs can be merged); renames and directory syncs
    /// (one job). Jobs are submitted directly rather than through `runIfActive`, so
    /// cancelling the leader's task cannot abandon its followers' work.
    private func runBatch(_ batch: [Work]) async -> [Result<Void, SpoolError>] {
        let recycledFiles = recycledFiles
        let shutDown = SpoolError(code: .ioFailure, message: "the spool thread pool is shut down")
        let prepared = await onThreadPool {
            Self.prepare(batch, recycledFiles: recycledFiles)
        } ifShutDown: {
            batch.map { _ in .failure(shutDown) }
        }
        var outcomes = prepared.map { result in result.map { _ in () } }
        var staged: [(index: Int, request: CommitRequest)] = []
        for (index, result) in prepared.enumerated() {
            if case .success(let request?) = result { staged.append((index, request)) }
        }
        guard !staged.isEmpty else { return outcomes }
        let requests = staged.map(\.request)
        let syncFailure = await syncData(of: requests)
        let queueDirectory = queueDirectory
        let results = await onThreadPool {
            Self.commit(requests, syncFailure: syncFailure, queueDirectory: queueDirectory)
        } ifShutDown: {
            for request in requests {
                Self.closeDescriptors(of: request)
                Self.discard(request, messageRenamed: false)
            }
            return requests.map { _ in .failure(shutDown) }
        }
        for (position, item) in staged.enumerated() {
            outcomes[item.index] = results[position]
        }
        return outcomes
    }

    /// Runs blocking work on the thread pool, or `ifShutDown` on the calling thread if the pool
    /// no longer runs work.
    private nonisolated func onThreadPool<Value: Sendable>(
        _ body: @escaping @Sendable () -> Value,
        ifShutDown: @escaping @Sendable () -> Value
    ) async -> Value {
        await withCheckedContinuation { continuation in
            threadPool.submit { state in
                switch state {
                case .active:
                    continuation.resume(returning: body())
                case .cancelled:
                    continuation.resume(returning: ifShutDown())
                }
            }
        }
    }

    /// Step 1 of a batch: removals first, so that an update in the same batch cannot
    /// resurrect an entry; then the staged files still in memory are written, and the
    /// writeback of every staged file is started. Returns, per piece of work, the failure, the
    /// commit request with its files open, or `nil` for a removal done.
    private static func prepare(_ batch: [Work], recycledFiles: RecycledFiles) -> [Result<CommitRequest?, SpoolError>] {
        let outcomes: [Result<CommitRequest?, SpoolError>] = batch.map { work in
            switch work {
            case .removal(let removal):
                Result { () throws(SpoolError) in
                    try remove(removal, recycledFiles: recycledFiles)
                    return nil
                }
            case .commit(let request):
                // A file that cannot be written fails only its own commit.
                Result { () throws(SpoolError) in try materialize(request, recycledFiles: recycledFiles) }
            }
        }
        for case .success(let request?) in outcomes {
            for file in request.files {
                if case .written(let descriptor) = file.content { SpoolFiles.startWriteback(descriptor) }
            }
        }
        return outcomes
    }

    /// Step 2 of a batch: makes the data of every staged file durable (`fsync` each, spread
    /// over parallel jobs, or one `syncfs`). Returns the first failure.
    private func syncData(of requests: [CommitRequest]) async -> SpoolError? {
        let queueDirectory = queueDirectory
        let shutDown = SpoolError(code: .ioFailure, message: "the spool thread pool is shut down")
        if syncMethod == .syncFileSystem {
            let synced: Result<Bool, SpoolError> = await onThreadPool {
                Result { () throws(SpoolError) in try SpoolFiles.syncFileSystem(containing: queueDirectory) }
            } ifShutDown: {
                .failure(shutDown)
            }
            switch synced {
            case .success(true): return nil
            case .success(false): break
            case .failure(let error): return error
            }
        }
        var files: [(descriptor: CInt, path: String)] = []
        for request in requests {
            for file in request.files {
                if case .written(let descriptor) = file.content { files.append((descriptor, file.temporaryPath)) }
            }
        }
        let jobs = min(Self.parallelSyncJobs, (files.count + Self.filesPerSyncJob - 1) / Self.filesPerSyncJob)
        return await withTaskGroup(of: SpoolError?.self) { group in
            for job in 0..<jobs {
                let share = stride(from: job, to: files.count, by: jobs).map { files[$0] }
                group.addTask {
                    await self.onThreadPool {
                        for file in share {
                            do throws(SpoolError) {
                                try SpoolFiles.syncData(file.descriptor, path: file.path)
                            } catch {
                                return error
                            }
                        }
                        return nil
                    } ifShutDown: {
                        shutDown
                    }
                }
            }
            var failure: SpoolError?
            for await result in group where failure == nil {
                failure = result
            }
            return failure
        }
    }

    /// Removes `ID.env`, then `ID.msg` (each deleted, or kept in `tmp/` for reuse).
    private static func remove(_ removal: RemovalRequest, recycledFiles: RecycledFiles) throws(SpoolError) {
        let hadEnvelope = try recycledFiles.remove(removal.envelopePath)
        let hadMessage = try recycledFiles.remove(removal.messagePath)
        guard hadEnvelope || hadMessage else {
            throw SpoolError(code: .notFound, message: "no such message in the spool", path: removal.envelopePath)
        }
    }

    /// Writes the in-memory files of a request to `tmp/` (into recycled files where there are
    /// some), returning it with every file open. On failure nothing of it remains in `tmp/`.
    private static func materialize(_ request: CommitRequest, recycledFiles: RecycledFiles) throws(SpoolError) -> CommitRequest {
        var result = request
        do throws(SpoolError) {
            if let required = request.requiredMessagePath, try SpoolFiles.fileSize(required) == nil {
                throw SpoolError(code: .notFound, message: "no such message in the spool", path: required)
            }
            if let message = result.message {
                result.message = try write(message, recycledFiles: recycledFiles)
            }
            result.envelope = try write(result.envelope, recycledFiles: recycledFiles)
        } catch {
            closeDescriptors(of: result)
            discard(result, messageRenamed: false)
            throw error
        }
        return result
    }

    /// Writes a staged file still in memory, into a recycled file or a new one.
    private static func write(_ file: CommitRequest.StagedFile, recycledFiles: RecycledFiles) throws(SpoolError) -> CommitRequest.StagedFile {
        guard case .bytes(let bytes) = file.content else { return file }
        var result = file
        if let (descriptor, path) = try recycledFiles.reuse(for: bytes) {
            result.content = .written(descriptor: descriptor)
            result.temporaryPath = path
        } else {
            result.content = .written(descriptor: try SpoolFiles.createFile(file.temporaryPath, containing: bytes))
        }
        return result
    }

    /// Step 3 of a batch: renames the synced files of the requests into `queue/`, or, if
    /// their sync failed, removes them. Closes every descriptor.
    private static func commit(
        _ requests: [CommitRequest],
        syncFailure: SpoolError?,
        queueDirectory: String
    ) -> [Result<Void, SpoolError>] {
        var outcomes = [Result<Void, SpoolError>](repeating: .success(()), count: requests.count)
        var renamedMessages = Set<Int>()
        defer {
            for request in requests { closeDescriptors(of: request) }
        }
        func failAll(_ error: SpoolError) -> [Result<Void, SpoolError>] {
            for (index, request) in requests.enumerated() {
                discard(request, messageRenamed: renamedMessages.contains(index))
            }
            return requests.map { _ in .failure(error) }
        }

        // 1. Data first: nothing may be renamed into queue/ before its bytes are durable.
        if let syncFailure {
            return failAll(syncFailure)
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

    /// Closes the descriptors of the request's written files.
    private static func closeDescriptors(of request: CommitRequest) {
        for file in request.files {
            if case .written(let descriptor) = file.content { close(descriptor) }
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

extension CommitRequest {
    /// The request's files: the body (if any), then the envelope.
    fileprivate var files: [StagedFile] {
        if let message { [message, envelope] } else { [envelope] }
    }
}
