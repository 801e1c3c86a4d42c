package io.legate.http.filters.grpcweb;

import io.envoyproxy.envoy.extensions.filters.http.grpc_web.v3.GrpcWeb;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.grpc.GrpcCallStats;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.grpc_web}: lets gRPC-Web clients (HTTP/1.1 or HTTP/2, binary or
 * base64 text) call gRPC services: requests become gRPC, responses become gRPC-Web with the
 * trailers as a final frame. Counts calls as {@code cluster.<name>.grpc-web.<service>.<method>.*}.
 */
public final class GrpcWebFilterFactory extends HttpFilterConfigFactory<GrpcWeb> {
  public GrpcWebFilterFactory() {
    super("envoy.filters.http.grpc_web", GrpcWeb.class, GrpcWeb.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(GrpcWeb config, FactoryContext context, String path) {
    GrpcCallStats stats = new GrpcCallStats(context.stats(), "grpc-web");
    return () -> new GrpcWebFilter(stats);
  }
}
