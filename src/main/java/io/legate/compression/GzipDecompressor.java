package io.legate.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * gzip (RFC 1952) decoding over the JDK's zlib, incrementally: the header (with its optional
 * fields), the deflate stream, and the trailer whose CRC-32 and size are checked; concatenated
 * members are decoded one after the other. The output is capped at {@code maxInflateRatio} times the
 * input (Envoy's {@code max_inflate_ratio}).
 */
final class GzipDecompressor implements Decompressor {
  private enum State {
    HEADER,
    BODY,
    TRAILER
  }

  private static final int FHCRC = 2;
  private static final int FEXTRA = 4;
  private static final int FNAME = 8;
  private static final int FCOMMENT = 16;

  private final Inflater inflater = new Inflater(true);
  private final int chunkSize;
  private final long maxInflateRatio;
  private final CRC32 crc = new CRC32();
  /** Header or trailer bytes seen so far (small). */
  private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream(16);
  private State state = State.HEADER;
  private long totalIn;
  private long totalOut;
  private long memberOut;
  private boolean closed;

  GzipDecompressor(int chunkSize, int maxInflateRatio) {
    this.chunkSize = chunkSize;
    this.maxInflateRatio = maxInflateRatio;
  }

  @Override
  public ByteBuf decompress(ByteBufAllocator alloc, ByteBuf input) throws DecompressionException {
    OutputChunks out = new OutputChunks(alloc, chunkSize);
    try {
      totalIn += input.readableBytes();
      for (ByteBuffer in : input.nioBuffers()) {
        while (in.hasRemaining()) {
          switch (state) {
            case HEADER -> readHeader(in);
            case BODY -> inflate(in, out);
            case TRAILER -> readTrailer(in);
          }
        }
      }
      return out.take();
    } catch (DecompressionException e) {
      out.discard();
      throw e;
    }
  }

  private void readHeader(ByteBuffer in) throws DecompressionException {
    pending.write(in.get());
    byte[] h = pending.toByteArray();
    int need = headerLength(h);
    if (need < 0 || h.length < need) {
      return;
    }
    pending.reset();
    inflater.reset();
    crc.reset();
    memberOut = 0;
    state = State.BODY;
  }

  /** Returns the header's full length once it can be known from {@code h}, else -1. */
  private static int headerLength(byte[] h) throws DecompressionException {
    if (h.length >= 1 && h[0] != 0x1f || h.length >= 2 && h[1] != (byte) 0x8b) {
      throw new DecompressionException("not in gzip format");
    }
    if (h.length >= 3 && h[2] != 8) {
      throw new DecompressionException("unsupported gzip compression method " + h[2]);
    }
    if (h.length < 10) {
      return -1;
    }
    int flags = h[3] & 0xff;
    int pos = 10;
    if ((flags & FEXTRA) != 0) {
      if (h.length < pos + 2) {
        return -1;
      }
      pos += 2 + ((h[pos] & 0xff) | (h[pos + 1] & 0xff) << 8);
    }
    for (int flag : new int[] {FNAME, FCOMMENT}) {
      if ((flags & flag) != 0) {
        while (true) {
          if (pos >= h.length) {
            return -1;
          }
          if (h[pos++] == 0) {
            break;
          }
        }
      }
    }
    if ((flags & FHCRC) != 0) {
      pos += 2;
    }
    return pos;
  }

  private void inflate(ByteBuffer in, OutputChunks out) throws DecompressionException {
    inflater.setInput(in);
    try {
      while (!inflater.finished()) {
        ByteBuffer w = out.writable();
        int room = w.remaining();
        ByteBuffer view = w.duplicate();
        inflater.inflate(w);
        int n = out.written();
        view.limit(n);
        crc.update(view);
        memberOut += n;
        totalOut += n;
        if (totalOut > maxInflateRatio * totalIn) {
          throw new DecompressionException("inflated size exceeds max_inflate_ratio");
        }
        if (n < room && inflater.needsInput()) {
          break;
        }
        if (n == 0 && inflater.needsDictionary()) {
          throw new DecompressionException("gzip stream needs a preset dictionary");
        }
      }
    } catch (DataFormatException e) {
      throw new DecompressionException("invalid deflate data: " + e.getMessage());
    }
    if (inflater.finished()) {
      state = State.TRAILER;
    }
  }

  private void readTrailer(ByteBuffer in) throws DecompressionException {
    pending.write(in.get());
    if (pending.size() < 8) {
      return;
    }
    ByteBuffer t = ByteBuffer.wrap(pending.toByteArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long wantCrc = t.getInt() & 0xffffffffL;
    long wantSize = t.getInt() & 0xffffffffL;
    if (wantCrc != crc.getValue() || wantSize != (memberOut & 0xffffffffL)) {
      throw new DecompressionException("gzip trailer does not match the data (crc or size)");
    }
    pending.reset();
    state = State.HEADER;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      inflater.end();
    }
  }
}
