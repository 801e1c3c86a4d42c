package io.legate.upstream;

import com.google.gson.Gson;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;

/** Test helper: Envoy protos from YAML. */
final class Yaml {
  private static final JsonFormat.Parser PARSER =
      JsonFormat.parser()
          .usingTypeRegistry(
              JsonFormat.TypeRegistry.newBuilder()
                  .add(HttpProtocolOptions.getDescriptor())
                  .add(io.envoyproxy.envoy.extensions.clusters.dns.v3.DnsCluster.getDescriptor())
                  .build());

  private Yaml() {}

  static Cluster cluster(String yaml) {
    Cluster.Builder b = Cluster.newBuilder();
    merge(yaml, b);
    return b.build();
  }

  static ClusterLoadAssignment cla(String yaml) {
    ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder();
    merge(yaml, b);
    return b.build();
  }

  private static void merge(String yaml, com.google.protobuf.Message.Builder b) {
    Object tree = new org.yaml.snakeyaml.Yaml().load(yaml);
    try {
      PARSER.merge(new Gson().toJson(tree), b);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
