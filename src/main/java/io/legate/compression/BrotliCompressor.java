package io.legate.compression;

import com.aayushatharva.brotli4j.encoder.Encoder;
import com.aayushatharva.brotli4j.encoder.EncoderJNI;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * Brotli over the native encoder (brotli4j): input is pushed through the encoder's input window;
 * each call ends with a flush (or the stream's end), as Envoy's brotli compressor.
 */
final class BrotliCompressor implements Compressor {
  private final EncoderJNI.Wrapper encoder;
  private final int chunkSize;
  private boolean closed;

  BrotliCompressor(int quality, int windowBits, Encoder.Mode mode, int chunkSize) {
    BrotliSupport.ensureAvailable();
    try {
      this.encoder = new EncoderJNI.Wrapper(chunkSize, quality, windowBits, mode);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.chunkSize = chunkSize;
  }

  @Override
  public ByteBuf compress(ByteBufAllocator alloc, ByteBuf input, boolean finish) {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    try {
      ByteBuffer window = encoder.getInputBuffer();
      int index = input.readerIndex();
      int end = input.writerIndex();
      while (index < end) {
        int n = Math.min(end - index, window.capacity());
        window.clear();
        input.getBytes(index, window.limit(n));
        index += n;
        run(EncoderJNI.Operation.PROCESS, n, out);
      }
      if (finish) {
        run(EncoderJNI.Operation.FINISH, 0, out);
      } else if (input.isReadable()) {
        run(EncoderJNI.Operation.FLUSH, 0, out);
      }
      return out.take();
    } catch (RuntimeException e) {
      out.discard();
      throw e;
    }
  }

  private void run(EncoderJNI.Operation op, int length, OutputChunks out) {
    encoder.push(op, length);
    while (true) {
      if (!encoder.isSuccess()) {
        throw new IllegalStateException("brotli encoding failed");
      }
      if (encoder.hasMoreOutput()) {
        out.write(encoder.pull());
      } else if (encoder.hasRemainingInput()) {
        encoder.push(op, 0);
      } else if (op == EncoderJNI.Operation.FINISH && !encoder.isFinished()) {
        encoder.push(op, 0);
      } else {
        return;
      }
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      encoder.destroy();
    }
  }
}
