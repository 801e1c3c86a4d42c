package io.legate.http.filters.decompressor;

import io.envoyproxy.envoy.extensions.filters.http.decompressor.v3.Decompressor;
import io.legate.compression.CompressionLibraries;
import io.legate.compression.DecompressorLibrary;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import java.util.Locale;

/**
 * A decompressor filter's immutable config, with stats rooted at {@code
 * http.<stat_prefix>.decompressor.<library name>.<library stats prefix>.{request,response}.}.
 */
final class DecompressorConfig {
  /** One direction: enabled (the runtime flag's default value), {@code ignore_no_transform_header}. */
  record Direction(
      boolean enabled,
      boolean ignoreNoTransform,
      Counter decompressed,
      Counter notDecompressed,
      Counter totalUncompressedBytes,
      Counter totalCompressedBytes) {}

  final DecompressorLibrary library;
  final String contentEncoding;
  final Direction request;
  final Direction response;
  final boolean advertiseAcceptEncoding;
  final Counter libraryErrors;

  DecompressorConfig(Decompressor d, String path, StatsStore.Scope hcmScope) {
    if (!d.hasDecompressorLibrary()) {
      throw new ConfigException(path + ".decompressor_library", "is required");
    }
    library = CompressionLibraries.decompressor(d.getDecompressorLibrary(), path + ".decompressor_library");
    contentEncoding = library.contentEncoding().toLowerCase(Locale.ROOT);
    StatsStore.Scope s = hcmScope.scope("decompressor." + library.name() + "." + library.statsPrefix() + ".");
    var rq = d.getRequestDirectionConfig().getCommonConfig();
    var rs = d.getResponseDirectionConfig().getCommonConfig();
    request =
        direction(
            !rq.hasEnabled() || !rq.getEnabled().hasDefaultValue() || rq.getEnabled().getDefaultValue().getValue(),
            rq.getIgnoreNoTransformHeader(),
            s.scope("request."));
    response =
        direction(
            !rs.hasEnabled() || !rs.getEnabled().hasDefaultValue() || rs.getEnabled().getDefaultValue().getValue(),
            rs.getIgnoreNoTransformHeader(),
            s.scope("response."));
    var ra = d.getRequestDirectionConfig();
    advertiseAcceptEncoding = !ra.hasAdvertiseAcceptEncoding() || ra.getAdvertiseAcceptEncoding().getValue();
    String errorStat =
        switch (library.statsPrefix()) {
          case "gzip" -> "zlib_data_error";
          case "brotli" -> "brotli_error";
          default -> "zstd_generic_error";
        };
    libraryErrors = s.counter("decompressor_library." + errorStat);
  }

  private static Direction direction(boolean enabled, boolean ignoreNoTransform, StatsStore.Scope s) {
    return new Direction(
        enabled,
        ignoreNoTransform,
        s.counter("decompressed"),
        s.counter("not_decompressed"),
        s.counter("total_uncompressed_bytes"),
        s.counter("total_compressed_bytes"));
  }
}
