package io.legate.compression;

import com.aayushatharva.brotli4j.decoder.DecoderJNI;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** Brotli decoding over the native decoder (brotli4j), incrementally. */
final class BrotliDecompressor implements Decompressor {
  private final DecoderJNI.Wrapper decoder;
  private final int chunkSize;
  private boolean closed;

  BrotliDecompressor(int chunkSize) {
    BrotliSupport.ensureAvailable();
    try {
      this.decoder = new DecoderJNI.Wrapper(chunkSize);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.chunkSize = chunkSize;
  }

  @Override
  public ByteBuf decompress(ByteBufAllocator alloc, ByteBuf input) throws DecompressionException {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    try {
      int index = input.readerIndex();
      int end = input.writerIndex();
      while (index < end) {
        if (decoder.getStatus() == DecoderJNI.Status.DONE) {
          break; // bytes after the end of the stream are ignored
        }
        ByteBuffer window = decoder.getInputBuffer();
        int n = Math.min(end - index, window.capacity());
        window.clear();
        input.getBytes(index, window.limit(n));
        index += n;
        decoder.push(n);
        drain(out);
      }
      return out.take();
    } catch (DecompressionException e) {
      out.discard();
      throw e;
    }
  }

  private void drain(OutputChunks out) throws DecompressionException {
    while (true) {
      switch (decoder.getStatus()) {
        case NEEDS_MORE_OUTPUT -> out.write(decoder.pull());
        case OK -> decoder.push(0);
        case NEEDS_MORE_INPUT, DONE -> {
          if (decoder.hasOutput()) {
            out.write(decoder.pull());
          } else {
            return;
          }
        }
        default -> throw new DecompressionException("corrupt brotli data");
      }
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      decoder.destroy();
    }
  }
}
