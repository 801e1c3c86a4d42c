package io.legate.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * gzip (RFC 1952) over the JDK's zlib: a raw deflate stream between a gzip header and a CRC-32/size
 * trailer. Every call without {@code finish} ends with a sync flush, as Envoy's zlib compressor.
 */
final class GzipCompressor implements Compressor {
  private static final byte[] HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

  private final Deflater deflater;
  private final int chunkSize;
  private final CRC32 crc = new CRC32();
  private boolean headerWritten;
  private boolean closed;

  GzipCompressor(int level, int strategy, int chunkSize) {
    this.deflater = new Deflater(level, true);
    this.deflater.setStrategy(strategy);
    this.chunkSize = chunkSize;
  }

  @Override
  public ByteBuf compress(ByteBufAllocator alloc, ByteBuf input, boolean finish) {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    if (!headerWritten) {
      out.write(HEADER);
      headerWritten = true;
    }
    if (input.isReadable()) {
      for (ByteBuffer in : input.nioBuffers()) {
        crc.update(in.duplicate());
        deflater.setInput(in);
        while (!deflater.needsInput()) {
          deflater.deflate(out.writable(), Deflater.NO_FLUSH);
          out.written();
        }
      }
    }
    if (finish) {
      deflater.finish();
      while (!deflater.finished()) {
        deflater.deflate(out.writable(), Deflater.NO_FLUSH);
        out.written();
      }
      ByteBuffer trailer = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      trailer.putInt((int) crc.getValue()).putInt((int) deflater.getBytesRead()).flip();
      out.write(trailer);
    } else if (input.isReadable()) {
      while (true) {
        ByteBuffer w = out.writable();
        int room = w.remaining();
        deflater.deflate(w, Deflater.SYNC_FLUSH);
        if (out.written() < room) {
          break;
        }
      }
    }
    return out.take();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      deflater.end();
    }
  }
}
