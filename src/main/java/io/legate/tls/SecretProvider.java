package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;

/**
 * One secret by name: a static one from {@code static_resources.secrets} (fixed, ready at once) or
 * a dynamic one delivered by SDS (from a file or a control plane). The TLS contexts that use it are
 * its dependents: a new version rebuilds each of them into a new Netty context that new connections
 * get, while connections already open keep the context they started with.
 *
 * <p>Updates arrive on the config thread only ({@link SecretManager#apply}); readers on other threads
 * see the current secret through a volatile field.
 */
public final class SecretProvider {
  /** A TLS context built from secrets; rebuilt when one of them changes. */
  interface Dependent {
    /**
     * Builds the context from the providers' effective secrets (the staged ones during an update)
     * and returns the action that publishes it; throws {@link io.legate.config.ConfigException} when
     * it does not build. Returns a no-op while a secret is still missing.
     */
    Runnable rebuild();
  }

  private final String name;
  private final boolean dynamic;
  private final CompletableFuture<Void> ready = new CompletableFuture<>();
  private final Set<Dependent> dependents = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
  private volatile Secret current;
  private volatile String version = "";
  private volatile long lastUpdatedMillis;
  private Secret staged;

  private SecretProvider(String name, boolean dynamic, Secret initial) {
    this.name = name;
    this.dynamic = dynamic;
    this.current = initial;
    if (initial != null) {
      ready.complete(null);
    }
  }

  /** Returns a provider of a static secret, ready at once. */
  static SecretProvider fixed(Secret secret) {
    return new SecretProvider(secret.getName(), false, secret);
  }

  /** Returns a provider of a dynamic secret, not ready until its first version is applied. */
  public static SecretProvider dynamic(String name) {
    return new SecretProvider(name, true, null);
  }

  /** Returns the secret's name. */
  public String name() {
    return name;
  }

  /** Returns whether the secret comes from SDS. */
  public boolean isDynamic() {
    return dynamic;
  }

  /** Returns the current secret, or null before the first version arrived. */
  public Secret secret() {
    return current;
  }

  /** Returns the version of the current secret ("" for a static one). */
  public String version() {
    return version;
  }

  /** Returns when the current secret was applied (ms since the epoch), 0 if never or static. */
  public long lastUpdatedMillis() {
    return lastUpdatedMillis;
  }

  /** Returns a future completed once the first version was applied or the initial fetch timed out. */
  public CompletableFuture<Void> ready() {
    return ready;
  }

  /** Marks the provider ready without a secret (Envoy's {@code initial_fetch_timeout}); returns whether it was not ready before. */
  public boolean initialFetchTimedOut() {
    return ready.complete(null);
  }

  void addDependent(Dependent d) {
    dependents.add(d);
  }

  List<Dependent> dependents() {
    synchronized (dependents) {
      return new ArrayList<>(dependents);
    }
  }

  /** Returns the staged secret during an update, else the current one. */
  Secret effective() {
    Secret s = staged;
    return s != null ? s : current;
  }

  void stage(Secret s) {
    staged = s;
  }

  void unstage() {
    staged = null;
  }

  void commit(String versionInfo) {
    current = staged;
    staged = null;
    version = versionInfo;
    lastUpdatedMillis = System.currentTimeMillis();
  }

  void completeReady() {
    ready.complete(null);
  }
}
