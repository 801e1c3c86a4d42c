package io.legate.xds;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;

/** The xDS resource types Legate subscribes to, in Envoy's initialization order. */
public enum ResourceType {
  CLUSTER("type.googleapis.com/envoy.config.cluster.v3.Cluster", Cluster.class, true),
  ENDPOINT("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", ClusterLoadAssignment.class, false),
  LISTENER("type.googleapis.com/envoy.config.listener.v3.Listener", Listener.class, true),
  ROUTE("type.googleapis.com/envoy.config.route.v3.RouteConfiguration", RouteConfiguration.class, false),
  SECRET("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", Secret.class, false);

  private final String typeUrl;
  private final Class<? extends Message> messageClass;
  private final boolean wildcard;

  ResourceType(String typeUrl, Class<? extends Message> messageClass, boolean wildcard) {
    this.typeUrl = typeUrl;
    this.messageClass = messageClass;
    this.wildcard = wildcard;
  }

  /** Returns the type URL, {@code type.googleapis.com/envoy.config.cluster.v3.Cluster}. */
  public String typeUrl() {
    return typeUrl;
  }

  /** Returns the generated message class. */
  public Class<? extends Message> messageClass() {
    return messageClass;
  }

  /** Returns whether a subscription asks for every resource (LDS, CDS) rather than named ones. */
  public boolean wildcard() {
    return wildcard;
  }

  /** Returns the type for a type URL, or null. */
  public static ResourceType of(String typeUrl) {
    for (ResourceType t : values()) {
      if (t.typeUrl.equals(typeUrl)) {
        return t;
      }
    }
    return null;
  }
}
