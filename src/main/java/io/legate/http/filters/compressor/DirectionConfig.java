package io.legate.http.filters.compressor;

import io.envoyproxy.envoy.config.core.v3.RuntimeFeatureFlag;
import io.legate.stats.Counter;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One direction's common settings of a compressor filter (Envoy's {@code CommonDirectionConfig}):
 * enabled (the runtime flag's default value), the minimum content length and the content types.
 */
record DirectionConfig(boolean enabled, long minContentLength, Set<String> contentTypes, Stats stats) {
  /** Envoy's default compressible content types, used when {@code content_type} is empty. */
  static final Set<String> DEFAULT_CONTENT_TYPES =
      Set.of(
          "text/html",
          "text/plain",
          "text/css",
          "application/javascript",
          "application/x-javascript",
          "text/javascript",
          "text/x-javascript",
          "text/ecmascript",
          "text/js",
          "text/jscript",
          "text/x-js",
          "application/ecmascript",
          "application/x-json",
          "application/xml",
          "application/json",
          "image/svg+xml",
          "text/xml",
          "application/xhtml+xml");

  /** The counters of one direction. */
  record Stats(
      Counter compressed,
      Counter notCompressed,
      Counter totalUncompressedBytes,
      Counter totalCompressedBytes,
      Counter contentLengthTooSmall) {}

  static DirectionConfig of(
      boolean present, RuntimeFeatureFlag enabled, Integer minContentLength, List<String> types, Stats stats) {
    boolean on = present && (enabled == null || !enabled.hasDefaultValue() || enabled.getDefaultValue().getValue());
    Set<String> ct =
        types.isEmpty()
            ? DEFAULT_CONTENT_TYPES
            : Set.copyOf(types.stream().map(t -> t.trim().toLowerCase(Locale.ROOT)).toList());
    return new DirectionConfig(on, minContentLength == null ? 30 : minContentLength, ct, stats);
  }

  /** Envoy's {@code isMinimumContentLength}: a known length below the minimum is too small. */
  boolean minimumContentLength(Http2Headers h) {
    CharSequence cl = h.get(HeaderValues.CONTENT_LENGTH);
    if (cl == null) {
      return true;
    }
    long length;
    try {
      length = Long.parseLong(cl.toString().trim());
    } catch (NumberFormatException e) {
      length = -1;
    }
    if (length >= minContentLength) {
      return true;
    }
    stats.contentLengthTooSmall().inc();
    return false;
  }

  /** A response (or request) without a content type is allowed, as in Envoy. */
  boolean contentTypeAllowed(Http2Headers h) {
    String mt = HeaderValues.mediaType(h);
    return mt == null || contentTypes.contains(mt);
  }
}
