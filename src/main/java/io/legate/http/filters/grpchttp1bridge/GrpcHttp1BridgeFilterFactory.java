package io.legate.http.filters.grpchttp1bridge;

import io.envoyproxy.envoy.extensions.filters.http.grpc_http1_bridge.v3.Config;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.grpc_http1_bridge}: lets HTTP/1.1 clients call gRPC services. The
 * response is buffered until its trailers, which become response headers: {@code grpc-status},
 * {@code grpc-message}, and HTTP 503 when the status is not OK. With {@code
 * upgrade_protobuf_to_grpc}, an {@code application/x-protobuf} request body is framed as one gRPC
 * message and the response's frame header removed; {@code ignore_query_parameters} drops the query.
 */
public final class GrpcHttp1BridgeFilterFactory extends HttpFilterConfigFactory<Config> {
  public GrpcHttp1BridgeFilterFactory() {
    super("envoy.filters.http.grpc_http1_bridge", Config.class, Config.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(Config config, FactoryContext context, String path) {
    boolean upgrade = config.getUpgradeProtobufToGrpc();
    boolean ignoreQuery = config.getIgnoreQueryParameters();
    return () -> new GrpcHttp1BridgeFilter(upgrade, ignoreQuery);
  }
}
