package io.legate.compression;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictDecompress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.List;

/** Zstandard decoding over zstd-jni's streaming context. */
final class ZstdDecompressor implements Decompressor {
  private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
  private final int chunkSize;
  private boolean closed;

  ZstdDecompressor(List<ZstdDictDecompress> dictionaries, int chunkSize) {
    // zstd-jni loads one dictionary into a context; with several, the first is used.
    if (!dictionaries.isEmpty()) {
      ctx.loadDict(dictionaries.get(0));
    }
    this.chunkSize = chunkSize;
  }

  @Override
  public ByteBuf decompress(ByteBufAllocator alloc, ByteBuf input) throws DecompressionException {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    ByteBuf direct = null;
    try {
      if (!input.isReadable()) {
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
      while (true) {
        ByteBuffer w = out.writable();
        int room = w.remaining();
        int before = src.position();
        ctx.decompressDirectByteBufferStream(w, src);
        int n = out.written();
        if (!src.hasRemaining() && n < room || n == 0 && src.position() == before) {
          break;
        }
      }
      return out.take();
    } catch (RuntimeException e) {
      out.discard();
      throw new DecompressionException("corrupt zstd data: " + e.getMessage());
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
