package io.legate.compression;

import com.aayushatharva.brotli4j.encoder.Encoder;
import com.github.luben.zstd.ZstdDictCompress;
import com.github.luben.zstd.ZstdDictDecompress;
import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.extensions.compression.brotli.compressor.v3.Brotli;
import io.envoyproxy.envoy.extensions.compression.gzip.compressor.v3.Gzip;
import io.envoyproxy.envoy.extensions.compression.zstd.compressor.v3.Zstd;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.tls.DataSources;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;

/**
 * Builds Envoy's compression libraries ({@code envoy.compression.{gzip,brotli,zstd}.compressor} and
 * {@code .decompressor}) from a filter's {@code compressor_library} / {@code decompressor_library}.
 * Validated once at config time; what a binding here cannot honour is refused with its field path.
 */
public final class CompressionLibraries {
  private static final String GZIP_C = "type.googleapis.com/" + Gzip.getDescriptor().getFullName();
  private static final String BROTLI_C = "type.googleapis.com/" + Brotli.getDescriptor().getFullName();
  private static final String ZSTD_C = "type.googleapis.com/" + Zstd.getDescriptor().getFullName();
  private static final String GZIP_D =
      "type.googleapis.com/"
          + io.envoyproxy.envoy.extensions.compression.gzip.decompressor.v3.Gzip.getDescriptor().getFullName();
  private static final String BROTLI_D =
      "type.googleapis.com/"
          + io.envoyproxy.envoy.extensions.compression.brotli.decompressor.v3.Brotli.getDescriptor().getFullName();
  private static final String ZSTD_D =
      "type.googleapis.com/"
          + io.envoyproxy.envoy.extensions.compression.zstd.decompressor.v3.Zstd.getDescriptor().getFullName();

  private static final int DEFAULT_CHUNK = 4096;

  private CompressionLibraries() {}

  /** Parses a {@code compressor_library}; {@code path} is that field's path. */
  public static CompressorLibrary compressor(TypedExtensionConfig lib, String path) {
    Any any = lib.getTypedConfig();
    String p = path + ".typed_config";
    String name = lib.getName();
    if (any.getTypeUrl().isEmpty()) {
      throw new ConfigException(path, "compressor_library needs a typed_config");
    }
    if (any.getTypeUrl().equals(GZIP_C)) {
      Gzip g = ConfigLoader.unpack(any, Gzip.class, p);
      checkRange(g.hasMemoryLevel(), g.getMemoryLevel().getValue(), 1, 9, p + ".memory_level");
      checkRange(g.hasWindowBits(), g.getWindowBits().getValue(), 9, 15, p + ".window_bits");
      int chunk = chunkSize(g.hasChunkSize(), g.getChunkSize().getValue(), p);
      int level = g.getCompressionLevelValue() == 0 ? Deflater.DEFAULT_COMPRESSION : g.getCompressionLevelValue();
      if (level > 9) {
        throw new ConfigException(p + ".compression_level", "must be between 1 and 9");
      }
      int strategy =
          switch (g.getCompressionStrategy()) {
            case DEFAULT_STRATEGY -> Deflater.DEFAULT_STRATEGY;
            case FILTERED -> Deflater.FILTERED;
            case HUFFMAN_ONLY -> Deflater.HUFFMAN_ONLY;
            default ->
                throw new ConfigException(
                    p + ".compression_strategy",
                    g.getCompressionStrategy() + " is not supported (the JDK's zlib offers DEFAULT_STRATEGY, FILTERED, HUFFMAN_ONLY)");
          };
      return new CompressorLibrary(name, "gzip", "gzip", () -> new GzipCompressor(level, strategy, chunk));
    }
    if (any.getTypeUrl().equals(BROTLI_C)) {
      Brotli b = ConfigLoader.unpack(any, Brotli.class, p);
      requireBrotli(p);
      checkRange(b.hasQuality(), b.getQuality().getValue(), 0, 11, p + ".quality");
      checkRange(b.hasWindowBits(), b.getWindowBits().getValue(), 10, 24, p + ".window_bits");
      if (b.hasInputBlockBits()) {
        throw new ConfigException(p + ".input_block_bits", "not supported (the brotli binding chooses the block size)");
      }
      if (b.getDisableLiteralContextModeling()) {
        throw new ConfigException(p + ".disable_literal_context_modeling", "not supported by the brotli binding");
      }
      int quality = b.hasQuality() ? b.getQuality().getValue() : 3;
      int window = b.hasWindowBits() ? b.getWindowBits().getValue() : 18;
      Encoder.Mode mode =
          switch (b.getEncoderMode()) {
            case TEXT -> Encoder.Mode.TEXT;
            case FONT -> Encoder.Mode.FONT;
            case DEFAULT, GENERIC -> Encoder.Mode.GENERIC;
            default -> throw new ConfigException(p + ".encoder_mode", "unknown mode " + b.getEncoderModeValue());
          };
      int chunk = chunkSize(b.hasChunkSize(), b.getChunkSize().getValue(), p);
      return new CompressorLibrary(name, "br", "brotli", () -> new BrotliCompressor(quality, window, mode, chunk));
    }
    if (any.getTypeUrl().equals(ZSTD_C)) {
      Zstd z = ConfigLoader.unpack(any, Zstd.class, p);
      int level = z.hasCompressionLevel() ? z.getCompressionLevel().getValue() : 3;
      if (level > com.github.luben.zstd.Zstd.maxCompressionLevel()) {
        throw new ConfigException(
            p + ".compression_level", "must be at most " + com.github.luben.zstd.Zstd.maxCompressionLevel());
      }
      int strategy = z.getStrategyValue();
      if (strategy < 0 || strategy > 9) {
        throw new ConfigException(p + ".strategy", "unknown strategy " + strategy);
      }
      ZstdDictCompress dict =
          z.hasDictionary() ? new ZstdDictCompress(DataSources.read(z.getDictionary(), p + ".dictionary"), level) : null;
      int chunk = chunkSize(z.hasChunkSize(), z.getChunkSize().getValue(), p);
      boolean checksum = z.getEnableChecksum();
      return new CompressorLibrary(
          name, "zstd", "zstd", () -> new ZstdCompressor(level, checksum, strategy, dict, chunk));
    }
    throw new ConfigException(
        p, "unsupported compressor library type " + any.getTypeUrl() + " (supported: gzip, brotli, zstd)");
  }

  /** Parses a {@code decompressor_library}; {@code path} is that field's path. */
  public static DecompressorLibrary decompressor(TypedExtensionConfig lib, String path) {
    Any any = lib.getTypedConfig();
    String p = path + ".typed_config";
    String name = lib.getName();
    if (any.getTypeUrl().isEmpty()) {
      throw new ConfigException(path, "decompressor_library needs a typed_config");
    }
    if (any.getTypeUrl().equals(GZIP_D)) {
      var g = ConfigLoader.unpack(any, io.envoyproxy.envoy.extensions.compression.gzip.decompressor.v3.Gzip.class, p);
      checkRange(g.hasWindowBits(), g.getWindowBits().getValue(), 9, 15, p + ".window_bits");
      checkRange(g.hasMaxInflateRatio(), g.getMaxInflateRatio().getValue(), 1, 1032, p + ".max_inflate_ratio");
      int chunk = chunkSize(g.hasChunkSize(), g.getChunkSize().getValue(), p);
      int ratio = g.hasMaxInflateRatio() ? g.getMaxInflateRatio().getValue() : 100;
      return new DecompressorLibrary(name, "gzip", "gzip", () -> new GzipDecompressor(chunk, ratio));
    }
    if (any.getTypeUrl().equals(BROTLI_D)) {
      var b = ConfigLoader.unpack(any, io.envoyproxy.envoy.extensions.compression.brotli.decompressor.v3.Brotli.class, p);
      requireBrotli(p);
      if (b.getDisableRingBufferReallocation()) {
        throw new ConfigException(p + ".disable_ring_buffer_reallocation", "not supported by the brotli binding");
      }
      int chunk = chunkSize(b.hasChunkSize(), b.getChunkSize().getValue(), p);
      return new DecompressorLibrary(name, "br", "brotli", () -> new BrotliDecompressor(chunk));
    }
    if (any.getTypeUrl().equals(ZSTD_D)) {
      var z = ConfigLoader.unpack(any, io.envoyproxy.envoy.extensions.compression.zstd.decompressor.v3.Zstd.class, p);
      if (z.getDictionariesCount() > 1) {
        throw new ConfigException(p + ".dictionaries", "at most one dictionary is supported");
      }
      List<ZstdDictDecompress> dicts = new ArrayList<>();
      for (int i = 0; i < z.getDictionariesCount(); i++) {
        dicts.add(new ZstdDictDecompress(DataSources.read(z.getDictionaries(i), p + ".dictionaries[" + i + "]")));
      }
      List<ZstdDictDecompress> frozen = List.copyOf(dicts);
      int chunk = chunkSize(z.hasChunkSize(), z.getChunkSize().getValue(), p);
      return new DecompressorLibrary(name, "zstd", "zstd", () -> new ZstdDecompressor(frozen, chunk));
    }
    throw new ConfigException(
        p, "unsupported decompressor library type " + any.getTypeUrl() + " (supported: gzip, brotli, zstd)");
  }

  private static void requireBrotli(String path) {
    String why = BrotliSupport.unavailabilityReason();
    if (why != null) {
      throw new ConfigException(path, "brotli is not available on this platform: " + why);
    }
  }

  private static int chunkSize(boolean set, int value, String path) {
    if (!set) {
      return DEFAULT_CHUNK;
    }
    checkRange(true, value, 4096, 65536, path + ".chunk_size");
    return value;
  }

  private static void checkRange(boolean set, int value, int min, int max, String path) {
    if (set && (value < min || value > max)) {
      throw new ConfigException(path, "must be between " + min + " and " + max + ", got " + value);
    }
  }
}
