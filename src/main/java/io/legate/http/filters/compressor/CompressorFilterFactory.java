package io.legate.http.filters.compressor;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.compressor.v3.Compressor;
import io.envoyproxy.envoy.extensions.filters.http.compressor.v3.CompressorPerRoute;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.compressor}: compresses response bodies (and, with {@code
 * request_direction_config}, request bodies) as they stream through, with the gzip, brotli or zstd
 * library, following Envoy's rules for when to compress and which encoding several compressor
 * filters in one chain choose. {@code CompressorPerRoute} in {@code typed_per_filter_config}.
 */
public final class CompressorFilterFactory extends HttpFilterConfigFactory<Compressor> {
  public CompressorFilterFactory() {
    super("envoy.filters.http.compressor", Compressor.class, Compressor.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(Compressor config, FactoryContext context, String path) {
    CompressorConfig c = new CompressorConfig(config, path + ".typed_config", context.scope(), context.filterConfigName());
    return () -> new CompressorFilter(c);
  }

  @Override
  protected Message routeConfigPrototype() {
    return CompressorPerRoute.getDefaultInstance();
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    CompressorPerRoute r = (CompressorPerRoute) config;
    switch (r.getOverrideCase()) {
      case DISABLED -> {
        if (!r.getDisabled()) {
          throw new ConfigException(path + ".disabled", "must be true when set");
        }
        return new CompressorPerRouteConfig(true, null);
      }
      case OVERRIDES -> {
        var rd = r.getOverrides().getResponseDirectionConfig();
        return new CompressorPerRouteConfig(
            false, rd.hasRemoveAcceptEncodingHeader() ? rd.getRemoveAcceptEncodingHeader().getValue() : null);
      }
      default -> throw new ConfigException(path, "one of disabled or overrides is required");
    }
  }
}
