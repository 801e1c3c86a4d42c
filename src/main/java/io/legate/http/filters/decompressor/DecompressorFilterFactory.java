package io.legate.http.filters.decompressor;

import io.envoyproxy.envoy.extensions.filters.http.decompressor.v3.Decompressor;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.decompressor}: decodes request bodies whose {@code Content-Encoding} is
 * the library's (gzip, brotli or zstd) before the upstream sees them, and likewise response bodies
 * before the client does; advertises the encoding upstream in {@code Accept-Encoding}.
 */
public final class DecompressorFilterFactory extends HttpFilterConfigFactory<Decompressor> {
  public DecompressorFilterFactory() {
    super("envoy.filters.http.decompressor", Decompressor.class, Decompressor.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(Decompressor config, FactoryContext context, String path) {
    DecompressorConfig c = new DecompressorConfig(config, path + ".typed_config", context.scope());
    return () -> new DecompressorFilter(c);
  }
}
