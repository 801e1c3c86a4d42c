package io.legate.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;

/**
 * Collects a codec's output in direct chunks of {@code chunkSize} bytes (Envoy's {@code chunk_size}),
 * handing the codec one writable chunk at a time, and returns them as one buffer.
 */
final class OutputChunks {
  private final ByteBufAllocator alloc;
  private final int chunkSize;
  private ByteBuf current;
  private ByteBuffer window;
  private CompositeByteBuf done;

  OutputChunks(ByteBufAllocator alloc, int chunkSize) {
    this.alloc = alloc;
    this.chunkSize = chunkSize;
  }

  /** Returns a buffer to write output into (position 0, limit = room); call {@link #written()} after. */
  ByteBuffer writable() {
    if (current == null || !current.isWritable()) {
      seal();
      current = alloc.directBuffer(chunkSize, chunkSize);
    }
    window = current.nioBuffer(current.writerIndex(), current.writableBytes());
    return window;
  }

  /** Accounts for what the codec wrote into the last {@link #writable()} buffer; returns that count. */
  int written() {
    int n = window.position();
    current.writerIndex(current.writerIndex() + n);
    window = null;
    return n;
  }

  /** Copies bytes that a codec produced elsewhere (a native library's own output buffer). */
  void write(ByteBuffer src) {
    while (src.hasRemaining()) {
      ByteBuffer w = writable();
      int n = Math.min(w.remaining(), src.remaining());
      ByteBuffer part = src.duplicate();
      part.limit(part.position() + n);
      w.put(part);
      src.position(src.position() + n);
      written();
    }
  }

  void write(byte[] bytes) {
    write(ByteBuffer.wrap(bytes));
  }

  private void seal() {
    if (current == null) {
      return;
    }
    if (current.isReadable()) {
      if (done == null) {
        done = alloc.compositeDirectBuffer(Integer.MAX_VALUE);
      }
      done.addComponent(true, current);
    } else {
      current.release();
    }
    current = null;
  }

  /** Returns everything written (the caller owns it); this collector is empty afterwards. */
  ByteBuf take() {
    seal();
    ByteBuf out = done;
    done = null;
    return out == null ? Unpooled.EMPTY_BUFFER : out;
  }

  /** Releases whatever was collected (on an error). */
  void discard() {
    if (current != null) {
      current.release();
      current = null;
    }
    if (done != null) {
      done.release();
      done = null;
    }
  }
}
