package io.legate.router;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;
import java.util.Set;

final class Fixtures {
  static final String P = "route_config";

  private Fixtures() {}

  static RouteConfiguration config(String json) {
    RouteConfiguration.Builder b = RouteConfiguration.newBuilder();
    try {
      JsonFormat.parser()
          .usingTypeRegistry(JsonFormat.TypeRegistry.newBuilder()
              .add(io.envoyproxy.envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig.getDescriptor())
              .build())
          .merge(json, b);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return b.build();
  }

  static RouteTable table(String json) {
    return RouteTable.build(config(json), P, null);
  }

  static RouteTable table(String json, Set<String> clusters) {
    return RouteTable.build(config(json), P, clusters::contains);
  }

  /** A single virtual host "vh" on "*" with the given routes JSON array. */
  static RouteTable routes(String routesJson) {
    return table("{\"name\":\"rc\",\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":"
        + routesJson + "}]}");
  }

  static Http2Headers at(String authority, String path, String... headers) {
    Http2Headers h = new DefaultHttp2Headers();
    h.method("GET").scheme("http").authority(authority).path(path);
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    return h;
  }

  static Http2Headers req(String path, String... headers) {
    return at("example.com", path, headers);
  }

  static StreamInfo info() {
    return new StreamInfo(1_700_000_000_123L, 0L, new InetSocketAddress("10.0.0.1", 5000),
        new InetSocketAddress("10.0.0.2", 8080), "HTTP/1.1");
  }

  static String name(Route r) {
    return r == null ? null : r.name();
  }
}
