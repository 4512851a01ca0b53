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
    /// ends the writing quietly. Takes ownership of `fd`.
    static func writeChunks<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks, to fd: CInt) async
    where Chunks.Element == [UInt8] {
        let channel: any NIOCore.Channel
        do {
            channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(output: fd).get()
        } catch {
            close(fd)
            return
        }
        do {
            for try await chunk in chunks {
                try await channel.writeAndFlush(ByteBuffer(bytes: chunk)).get()
            }
        } catch {
            // EPIPE: the program exited or closed its stdin; nothing left to deliver.
        }
        try? await channel.close().get()
    }
}
