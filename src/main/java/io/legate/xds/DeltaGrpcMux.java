package io.legate.xds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.stub.StreamObserver;
import io.legate.stats.Gauge;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;

/**
 * An incremental (delta) xDS stream with Envoy's protocol: the first request of a type subscribes
 * to its names ({@code resource_names_subscribe}; none for the wildcard LDS/CDS) and, after a
 * reconnect, lists the versions already held ({@code initial_resource_versions}); a change of names
 * sends only the difference ({@code resource_names_subscribe}/{@code _unsubscribe}). A response adds
 * or replaces resources and removes the ones named in {@code removed_resources}; the resulting
 * state of the world is handed to the same watcher as with {@link GrpcMux}, and accepted only if
 * the watcher applies it whole. ACK = the nonce; NACK = the nonce and {@code error_detail}, and the
 * resources held stay as they were.
 */
public final class DeltaGrpcMux extends XdsMux<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  /**
   * Creates the mux; nothing is sent before {@link #start()}.
   *
   * @param name for logs, e.g. {@code ads}
   * @param opener opens the bidirectional delta stream on the channel
   * @param connectedState {@code control_plane.connected_state}
   */
  public DeltaGrpcMux(
      String name,
      Function<StreamObserver<DeltaDiscoveryResponse>, StreamObserver<DeltaDiscoveryRequest>> opener,
      Node node,
      boolean nodeOnFirstMessageOnly,
      Executor configExecutor,
      ScheduledExecutorService timer,
      Gauge connectedState) {
    super(name, opener, node, nodeOnFirstMessageOnly, configExecutor, timer, connectedState);
  }

  @Override
  void resetForStream(TypeState s) {
    s.subscribed = new TreeSet<>();
  }

  @Override
  void namesChanged(TypeState s) {
    // resources no longer wanted are forgotten, as Envoy's delta subscription state does
    s.resources.keySet().retainAll(s.names);
    s.versions.keySet().retainAll(s.names);
  }

  @Override
  void sendSubscription(TypeState s) {
    if (!connected()) {
      return;
    }
    DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(s.type.typeUrl());
    if (!s.sent) {
      if (!s.type.wildcard()) {
        if (s.names.isEmpty()) {
          // an empty first subscription would mean "everything"; ask once there is something to ask for
          return;
        }
        b.addAllResourceNamesSubscribe(s.names);
      }
      for (Map.Entry<String, String> e : s.versions.entrySet()) {
        if (s.type.wildcard() || s.names.contains(e.getKey())) {
          b.putInitialResourceVersions(e.getKey(), e.getValue());
        }
      }
    } else {
      if (s.type.wildcard()) {
        return;
      }
      Set<String> add = new TreeSet<>(s.names);
      add.removeAll(s.subscribed);
      Set<String> drop = new TreeSet<>(s.subscribed);
      drop.removeAll(s.names);
      if (add.isEmpty() && drop.isEmpty()) {
        return;
      }
      b.addAllResourceNamesSubscribe(add).addAllResourceNamesUnsubscribe(drop);
    }
    s.subscribed = new TreeSet<>(s.names);
    if (takeNode()) {
      b.setNode(node);
    }
    s.sent = true;
    send(b.build());
  }

  @Override
  String typeUrl(DeltaDiscoveryResponse r) {
    return r.getTypeUrl();
  }

  @Override
  void handle(DeltaDiscoveryResponse r) {
    TypeState s = types.get(ResourceType.of(r.getTypeUrl()));
    s.nonce = r.getNonce();
    Map<String, Any> next = new TreeMap<>(s.resources);
    Map<String, String> versions = new TreeMap<>(s.versions);
    String error = null;
    for (int i = 0; i < r.getResourcesCount() && error == null; i++) {
      Resource res = r.getResources(i);
      if (res.getName().isEmpty()) {
        error = "resources[" + i + "].name: value length must be at least 1 characters";
      } else if (!res.hasResource()) {
        next.remove(res.getName());
        versions.remove(res.getName());
      } else {
        next.put(res.getName(), res.getResource());
        versions.put(res.getName(), res.getVersion());
      }
    }
    for (String removed : r.getRemovedResourcesList()) {
      next.remove(removed);
      versions.remove(removed);
    }
    if (error == null) {
      List<Any> view = new ArrayList<>(next.size());
      for (Map.Entry<String, Any> e : next.entrySet()) {
        if (s.type.wildcard() || s.names.contains(e.getKey())) {
          view.add(e.getValue());
        }
      }
      error = apply(s, view, r.getSystemVersionInfo());
    } else if (s.stats != null) {
      s.stats.updateAttempt.inc();
      s.stats.updateRejected.inc();
    }
    if (error == null) {
      s.resources = next;
      s.versions = versions;
      s.version = r.getSystemVersionInfo();
    }
    DeltaDiscoveryRequest.Builder b =
        DeltaDiscoveryRequest.newBuilder().setTypeUrl(s.type.typeUrl()).setResponseNonce(r.getNonce());
    if (takeNode()) {
      b.setNode(node);
    }
    if (error != null) {
      b.setErrorDetail(errorDetail(error));
    }
    send(b.build());
  }

  /** Returns the versions of the resources held for {@code type} (tests, config dump). */
  Map<String, String> versions(ResourceType type) {
    TypeState s = types.get(type);
    return s == null ? Map.of() : Map.copyOf(s.versions);
  }
}
