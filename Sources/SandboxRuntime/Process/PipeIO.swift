import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Pipe ends as NIO async channels: reads and writes never block a thread.
enum PipeIO {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Calls `body` with each chunk read from `fd` until end of file. Takes ownership of `fd`.
    static func readChunks(from fd: CInt, _ body: (ByteBuffer) async -> Void) async {
        let channel: Channel
        do {
            channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(input: fd) { channel in
                    channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
                }
        } catch {
            close(fd)
            return
        }
        try? await channel.executeThenClose { inbound, _ in
            for try await buffer in inbound {
                await body(buffer)
            }
        }
    }

    /// Writes every chunk of `chunks` to `fd`, each flushed before the next,
    /// then closes it (the reader sees end of file). A reader that went away
    /// ends the writing quietly. The channel is made only for the first
    /// chunk: most runs never write their stdin. Takes ownership of `fd`.
    static func writeChunks<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks, to fd: CInt) async
    where Chunks.Element == [UInt8] {
        var channel: (any NIOCore.Channel)?
        do {
            for try await chunk in chunks {
                if channel == nil {
                    channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .takingOwnershipOfDescriptor(output: fd).get()
                }
                try await channel?.writeAndFlush(ByteBuffer(bytes: chunk)).get()
            }
        } catch {
            // EPIPE: the program exited or closed its stdin; nothing left to deliver.
        }
        if let channel {
            try? await channel.close().get()
        } else {
            close(fd)
        }
    }

    /// Writes `bytes` to `fd` and closes it. What fits into the pipe goes in
    /// one non-blocking write on the caller's thread (a run's request almost
    /// always does); only the rest goes through a channel. Takes ownership of `fd`.
    static func writeAll(_ bytes: [UInt8], to fd: CInt) async {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                written += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        if written == bytes.count {
            close(fd)
            return
        }
        let (rest, sink) = AsyncStream.makeStream(of: [UInt8].self)
        sink.yield(Array(bytes[written...]))
        sink.finish()
        await writeChunks(rest, to: fd)
    }
}
