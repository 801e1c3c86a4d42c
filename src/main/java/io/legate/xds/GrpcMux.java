package io.legate.xds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.StreamObserver;
import io.legate.stats.Gauge;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;

/**
 * A state-of-the-world xDS stream with Envoy's protocol: one request per type with its resource
 * names (none for the wildcard LDS/CDS), ACK = the response's version and nonce, NACK = the last
 * accepted version, the nonce and {@code error_detail}; after a reconnect each type asks again with
 * its last accepted version.
 */
public final class GrpcMux extends XdsMux<DiscoveryRequest, DiscoveryResponse> {
  /**
   * Creates the mux; nothing is sent before {@link #start()}.
   *
   * @param name for logs, e.g. {@code ads}
   * @param opener opens the bidirectional stream on the channel
   * @param connectedState {@code control_plane.connected_state}
   */
  public GrpcMux(
      String name,
      Function<StreamObserver<DiscoveryResponse>, StreamObserver<DiscoveryRequest>> opener,
      Node node,
      boolean nodeOnFirstMessageOnly,
      Executor configExecutor,
      ScheduledExecutorService timer,
      Gauge connectedState) {
    super(name, opener, node, nodeOnFirstMessageOnly, configExecutor, timer, connectedState);
  }

  @Override
  void resetForStream(TypeState s) {}

  @Override
  void sendSubscription(TypeState s) {
    request(s, null);
  }

  @Override
  String typeUrl(DiscoveryResponse r) {
    return r.getTypeUrl();
  }

  @Override
  void handle(DiscoveryResponse r) {
    TypeState s = types.get(ResourceType.of(r.getTypeUrl()));
    s.nonce = r.getNonce();
    String error = apply(s, r.getResourcesList(), r.getVersionInfo());
    if (error == null) {
      s.version = r.getVersionInfo();
    }
    request(s, error);
  }

  private void request(TypeState s, String error) {
    if (!connected()) {
      return;
    }
    if (!s.type.wildcard() && s.names.isEmpty() && !s.sent) {
      // an empty list would mean "everything" in SotW; ask once there is something to ask for
      return;
    }
    DiscoveryRequest.Builder b =
        DiscoveryRequest.newBuilder()
            .setTypeUrl(s.type.typeUrl())
            .setVersionInfo(s.version)
            .setResponseNonce(s.nonce);
    if (!s.type.wildcard()) {
      b.addAllResourceNames(s.names);
    }
    if (takeNode()) {
      b.setNode(node);
    }
    if (error != null) {
      b.setErrorDetail(errorDetail(error));
    }
    s.sent = true;
    send(b.build());
  }
}
