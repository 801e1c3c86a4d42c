package io.legate.compression;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.aayushatharva.brotli4j.encoder.Encoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.function.Supplier;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/** The streaming codecs, fed in awkward pieces: every byte must come back, every buffer released. */
class StreamingCodecsTest {
  static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

  static byte[] text(int len) {
    Random r = new Random(7);
    StringBuilder sb = new StringBuilder();
    while (sb.length() < len) {
      sb.append("word").append(r.nextInt(500)).append(' ');
    }
    return sb.substring(0, len).getBytes(StandardCharsets.US_ASCII);
  }

  /** Compresses {@code data} in pieces of {@code piece} bytes, then finishes with an empty chunk. */
  static byte[] compress(Compressor c, byte[] data, int piece) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (c) {
      for (int i = 0; i < data.length; i += piece) {
        ByteBuf in = Unpooled.wrappedBuffer(data, i, Math.min(piece, data.length - i));
        drain(c.compress(ALLOC, in, false), out);
        in.release();
      }
      drain(c.compress(ALLOC, Unpooled.EMPTY_BUFFER, true), out);
    }
    return out.toByteArray();
  }

  static byte[] decompress(Decompressor d, byte[] data, int piece) throws DecompressionException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (d) {
      for (int i = 0; i < data.length; i += piece) {
        ByteBuf in = ALLOC.directBuffer().writeBytes(data, i, Math.min(piece, data.length - i));
        try {
          drain(d.decompress(ALLOC, in), out);
        } finally {
          in.release();
        }
      }
    }
    return out.toByteArray();
  }

  static void drain(ByteBuf b, ByteArrayOutputStream out) {
    out.writeBytes(ByteBufUtil.getBytes(b));
    b.release();
  }

  @Test
  void eachCodecRoundTripsWhateverThePieceSizes() throws Exception {
    byte[] data = text(120_000);
    record Codec(String name, Supplier<Compressor> c, Supplier<Decompressor> d) {}
    Codec[] codecs = {
      new Codec("gzip", () -> new GzipCompressor(Deflater.DEFAULT_COMPRESSION, Deflater.DEFAULT_STRATEGY, 4096),
          () -> new GzipDecompressor(4096, 100)),
      new Codec("brotli", () -> new BrotliCompressor(3, 18, Encoder.Mode.GENERIC, 4096), () -> new BrotliDecompressor(4096)),
      new Codec("zstd", () -> new ZstdCompressor(3, true, 0, null, 4096), () -> new ZstdDecompressor(java.util.List.of(), 4096)),
    };
    for (Codec codec : codecs) {
      for (int piece : new int[] {1000, 65536, data.length}) {
        byte[] z = compress(codec.c().get(), data, piece);
        assertThat(z.length).as(codec.name()).isLessThan(data.length / 2);
        for (int feed : new int[] {3, 4096, z.length}) {
          if (feed == 3 && piece != 65536) {
            continue; // tiny pieces once per codec are enough
          }
          assertThat(decompress(codec.d().get(), z, feed)).as(codec.name() + " " + piece + "/" + feed).isEqualTo(data);
        }
      }
    }
  }

  @Test
  void gzipReadsOptionalHeaderFieldsAndConcatenatedMembers() throws Exception {
    byte[] a = text(5000);
    byte[] b = "second member".getBytes(StandardCharsets.US_ASCII);
    ByteArrayOutputStream z = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(z)) {
      g.write(a);
    }
    byte[] first = z.toByteArray();
    first[3] = 8 | 16; // FNAME | FCOMMENT: insert "name\0" and "comment\0" after the fixed header
    ByteArrayOutputStream withFields = new ByteArrayOutputStream();
    withFields.write(first, 0, 10);
    withFields.writeBytes("name\0comment\0".getBytes(StandardCharsets.US_ASCII));
    withFields.write(first, 10, first.length - 10);
    ByteArrayOutputStream second = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(second)) {
      g.write(b);
    }
    withFields.writeBytes(second.toByteArray());
    byte[] all = withFields.toByteArray();
    ByteArrayOutputStream want = new ByteArrayOutputStream();
    want.writeBytes(a);
    want.writeBytes(b);
    for (int feed : new int[] {1, 3, all.length}) {
      assertThat(decompress(new GzipDecompressor(4096, 100), all, feed)).isEqualTo(want.toByteArray());
    }
  }

  @Test
  void gzipRefusesCorruptDataABadTrailerAndInflationBeyondTheRatio() throws Exception {
    byte[] z = compress(new GzipCompressor(6, Deflater.DEFAULT_STRATEGY, 4096), text(20_000), 20_000);
    byte[] badCrc = z.clone();
    badCrc[z.length - 6] ^= 1;
    assertThatThrownBy(() -> decompress(new GzipDecompressor(4096, 100), badCrc, 512))
        .isInstanceOf(DecompressionException.class)
        .hasMessage("gzip trailer does not match the data (crc or size)");
    byte[] notGzip = "hello".getBytes(StandardCharsets.US_ASCII);
    assertThatThrownBy(() -> decompress(new GzipDecompressor(4096, 100), notGzip, 5))
        .hasMessage("not in gzip format");
    byte[] zeros = compress(new GzipCompressor(9, Deflater.DEFAULT_STRATEGY, 4096), new byte[1 << 20], 1 << 20);
    assertThatThrownBy(() -> decompress(new GzipDecompressor(4096, 10), zeros, zeros.length))
        .hasMessage("inflated size exceeds max_inflate_ratio");
    assertThat(decompress(new GzipDecompressor(4096, 1032), zeros, zeros.length)).hasSize(1 << 20);
  }

  @Test
  void brotliAndZstdRefuseCorruptData() {
    byte[] br = compress(new BrotliCompressor(3, 18, Encoder.Mode.GENERIC, 4096), text(20_000), 4096);
    br[br.length / 2] ^= 0x5a;
    br[br.length / 2 + 1] ^= 0x5a;
    assertThatThrownBy(() -> decompress(new BrotliDecompressor(4096), br, 512)).isInstanceOf(DecompressionException.class);
    byte[] zs = compress(new ZstdCompressor(3, true, 0, null, 4096), text(20_000), 4096);
    zs[zs.length / 2] ^= 0x5a;
    zs[zs.length / 2 + 1] ^= 0x5a;
    assertThatThrownBy(() -> decompress(new ZstdDecompressor(java.util.List.of(), 4096), zs, 512))
        .isInstanceOf(DecompressionException.class);
  }

  @Test
  void eachFlushedChunkIsDecodableOnItsOwn() throws Exception {
    // Streaming: what the client has so far decodes to what was sent so far (no waiting for the end).
    byte[] data = text(10_000);
    Compressor[] cs = {
      new GzipCompressor(6, Deflater.DEFAULT_STRATEGY, 4096),
      new BrotliCompressor(3, 18, Encoder.Mode.GENERIC, 4096),
      new ZstdCompressor(3, false, 0, null, 4096)
    };
    Supplier<?>[] ds = {
      () -> new GzipDecompressor(4096, 100), () -> new BrotliDecompressor(4096), () -> new ZstdDecompressor(java.util.List.of(), 4096)
    };
    for (int i = 0; i < cs.length; i++) {
      try (Compressor c = cs[i]; Decompressor d = (Decompressor) ds[i].get()) {
        ByteBuf in = Unpooled.wrappedBuffer(data, 0, 6000);
        ByteBuf z = c.compress(ALLOC, in, false);
        in.release();
        ByteBuf plain = d.decompress(ALLOC, z);
        z.release();
        assertThat(ByteBufUtil.getBytes(plain)).as(c.getClass().getSimpleName()).isEqualTo(java.util.Arrays.copyOf(data, 6000));
        plain.release();
      }
    }
  }
}
