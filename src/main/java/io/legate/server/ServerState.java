package io.legate.server;

/**
 * Process-wide state that config objects may read at run time: whether the server is failing health
 * checks (admin {@code /healthcheck/fail}) and the local service cluster name. One per server,
 * passed down to the listeners; no statics, so tests can run several servers side by side.
 */
public final class ServerState {
  private final String localClusterName;
  private volatile boolean healthCheckFailed;
  private volatile OverloadManager overload = OverloadManager.NONE;
  private volatile io.legate.tls.SecretManager secrets = new io.legate.tls.SecretManager();

  /** Creates a state with an empty local cluster name. */
  public ServerState() {
    this("");
  }

  /** Creates a state for a server whose local cluster (node.cluster, --service-cluster) is given. */
  public ServerState(String localClusterName) {
    this.localClusterName = localClusterName;
  }

  /** Returns whether the server is failing health checks. Safe from any thread. */
  public boolean healthCheckFailed() {
    return healthCheckFailed;
  }

  /** Sets whether the server is failing health checks. */
  public void setHealthCheckFailed(boolean failed) {
    this.healthCheckFailed = failed;
  }

  /** Returns the overload manager (never null: {@link OverloadManager#NONE} when not configured). */
  public OverloadManager overload() {
    return overload;
  }

  /** Sets the overload manager, before the listeners start. */
  public void setOverload(OverloadManager overload) {
    this.overload = overload;
  }

  private volatile String nodeId = "";

  /** Returns the node id (bootstrap {@code node.id} or {@code --service-node}), possibly "". */
  public String nodeId() {
    return nodeId;
  }

  /** Sets the node id. */
  public void setNodeId(String nodeId) {
    this.nodeId = nodeId == null ? "" : nodeId;
  }

  /** Returns the local service cluster name (Envoy's local_info cluster name), possibly "". */
  public String localClusterName() {
    return localClusterName;
  }

  /** Returns the server's secrets (static and SDS), for the TLS contexts of listeners. */
  public io.legate.tls.SecretManager secrets() {
    return secrets;
  }

  /** Sets the server's secrets; called once while the server is built. */
  public void setSecrets(io.legate.tls.SecretManager secrets) {
    this.secrets = secrets;
  }
}
