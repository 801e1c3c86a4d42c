package io.legate.compression;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDictCompress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;

/** Zstandard over zstd-jni's streaming context; each call ends with a flush or the frame's end. */
final class ZstdCompressor implements Compressor {
  private final ZstdCompressCtx ctx = new ZstdCompressCtx();
  private final int chunkSize;
  private boolean closed;

  ZstdCompressor(int level, boolean checksum, int strategy, ZstdDictCompress dictionary, int chunkSize) {
    ctx.setLevel(level);
    ctx.setChecksum(checksum);
    if (strategy > 0) {
      ctx.setStrategy(strategy);
    }
    if (dictionary != null) {
      ctx.loadDict(dictionary);
    }
    this.chunkSize = chunkSize;
  }

  @Override
  public ByteBuf compress(ByteBufAllocator alloc, ByteBuf input, boolean finish) {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    ByteBuf direct = null;
    try {
      if (!input.isReadable() && !finish) {
        return out.take();
      }
      ByteBuffer src;
      if (input.isDirect() && input.nioBufferCount() == 1) {
        src = input.nioBuffer();
      } else {
        direct = alloc.directBuffer(input.readableBytes());
        direct.writeBytes(input, input.readerIndex(), input.readableBytes());
        src = direct.nioBuffer();
      }
      EndDirective op = finish ? EndDirective.END : EndDirective.FLUSH;
      while (true) {
        boolean done = ctx.compressDirectByteBufferStream(out.writable(), src, op);
        out.written();
        if (done) {
          break;
        }
      }
      return out.take();
    } catch (RuntimeException e) {
      out.discard();
      throw e;
    } finally {
      if (direct != null) {
        direct.release();
      }
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      ctx.close();
    }
  }
}
