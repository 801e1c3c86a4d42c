package io.legate.http.filters.compressor;

import io.envoyproxy.envoy.extensions.filters.http.compressor.v3.Compressor;
import io.legate.compression.CompressionLibraries;
import io.legate.compression.CompressorLibrary;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * A compressor filter's immutable config: the library, both directions' settings and the stats
 * rooted at {@code http.<stat_prefix>.compressor.<library name>.<library stats prefix>.}.
 */
final class CompressorConfig {
  final String filterName;
  final CompressorLibrary library;
  final String contentEncoding;
  final boolean chooseFirst;
  final DirectionConfig request;
  final DirectionConfig response;
  final boolean disableOnEtagHeader;
  final boolean removeAcceptEncodingHeader;
  final Set<Integer> uncompressibleResponseCodes;
  final Counter noAcceptHeader;
  final Counter headerIdentity;
  final Counter headerCompressorUsed;
  final Counter headerCompressorOvershadowed;
  final Counter headerWildcard;
  final Counter headerNotValid;
  final Counter notCompressedEtag;

  @SuppressWarnings("deprecation")
  CompressorConfig(Compressor c, String path, StatsStore.Scope hcmScope, String filterName) {
    this.filterName = filterName;
    if (!c.hasCompressorLibrary()) {
      throw new ConfigException(path + ".compressor_library", "is required");
    }
    this.library = CompressionLibraries.compressor(c.getCompressorLibrary(), path + ".compressor_library");
    this.contentEncoding = library.contentEncoding().toLowerCase(Locale.ROOT);
    this.chooseFirst = c.getChooseFirst();
    StatsStore.Scope s = hcmScope.scope("compressor." + library.name() + "." + library.statsPrefix() + ".");
    StatsStore.Scope rq = s.scope("request.");
    var rqStats =
        new DirectionConfig.Stats(
            rq.counter("compressed"),
            rq.counter("not_compressed"),
            rq.counter("total_uncompressed_bytes"),
            rq.counter("total_compressed_bytes"),
            rq.counter("content_length_too_small"));
    var rsStats =
        new DirectionConfig.Stats(
            s.counter("compressed"),
            s.counter("not_compressed"),
            s.counter("total_uncompressed_bytes"),
            s.counter("total_compressed_bytes"),
            s.counter("content_length_too_small"));
    if (c.hasRequestDirectionConfig() && c.getRequestDirectionConfig().hasCommonConfig()) {
      var cc = c.getRequestDirectionConfig().getCommonConfig();
      request =
          DirectionConfig.of(
              true,
              cc.hasEnabled() ? cc.getEnabled() : null,
              cc.hasMinContentLength() ? cc.getMinContentLength().getValue() : null,
              cc.getContentTypeList(),
              rqStats);
    } else {
      // Envoy: request compression is off unless request_direction_config is given.
      request = DirectionConfig.of(c.hasRequestDirectionConfig(), null, null, java.util.List.of(), rqStats);
    }
    if (c.hasResponseDirectionConfig()) {
      var r = c.getResponseDirectionConfig();
      var cc = r.getCommonConfig();
      response =
          DirectionConfig.of(
              true,
              cc.hasEnabled() ? cc.getEnabled() : null,
              cc.hasMinContentLength() ? cc.getMinContentLength().getValue() : null,
              cc.getContentTypeList(),
              rsStats);
      disableOnEtagHeader = r.getDisableOnEtagHeader();
      removeAcceptEncodingHeader = r.getRemoveAcceptEncodingHeader();
      Set<Integer> codes = new HashSet<>();
      for (int i = 0; i < r.getUncompressibleResponseCodesCount(); i++) {
        int code = r.getUncompressibleResponseCodes(i);
        if (code < 200 || code >= 600 || !codes.add(code)) {
          throw new ConfigException(
              path + ".response_direction_config.uncompressible_response_codes[" + i + "]",
              "must be unique and in [200, 600), got " + code);
        }
      }
      uncompressibleResponseCodes = Set.copyOf(codes);
    } else {
      // The deprecated top-level fields.
      response =
          DirectionConfig.of(
              true,
              c.hasRuntimeEnabled() ? c.getRuntimeEnabled() : null,
              c.hasContentLength() ? c.getContentLength().getValue() : null,
              c.getContentTypeList(),
              rsStats);
      disableOnEtagHeader = c.getDisableOnEtagHeader();
      removeAcceptEncodingHeader = c.getRemoveAcceptEncodingHeader();
      uncompressibleResponseCodes = Set.of();
    }
    noAcceptHeader = s.counter("no_accept_header");
    headerIdentity = s.counter("header_identity");
    headerCompressorUsed = s.counter("header_compressor_used");
    headerCompressorOvershadowed = s.counter("header_compressor_overshadowed");
    headerWildcard = s.counter("header_wildcard");
    headerNotValid = s.counter("header_not_valid");
    notCompressedEtag = s.counter("not_compressed_etag");
  }
}
