package io.legate.xds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.server.Log;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's filesystem subscription: a YAML/JSON/proto file shaped as a {@code DiscoveryResponse}
 * ({@code resources:} of one type). The file is polled every second off the event loops; a new
 * content (a write, or the rename/symlink swap that Envoy and Kubernetes ConfigMaps use) is parsed
 * and handed to the watcher on the config thread. A file that does not parse counts as
 * {@code update_failure}, one the watcher refuses as {@code update_rejected}; either way the last good
 * config stays.
 */
public final class FilesystemSubscription implements Subscription {
  private final Path path;
  private final ResourceType type;
  private final Watcher watcher;
  private final Executor configExecutor;
  private final ScheduledExecutorService poller;
  private final UpdateStats stats;
  private final long periodMillis;
  private final CompletableFuture<Void> firstLoad = new CompletableFuture<>();
  private ScheduledFuture<?> task;
  private String lastStamp;
  private byte[] lastContent;

  /**
   * Creates the subscription.
   *
   * @param configExecutor the config thread, where the watcher runs
   * @param poller a scheduler for reading the file (not an event loop)
   */
  public FilesystemSubscription(
      Path path,
      ResourceType type,
      Watcher watcher,
      Executor configExecutor,
      ScheduledExecutorService poller,
      UpdateStats stats,
      long periodMillis) {
    this.path = path;
    this.type = type;
    this.watcher = watcher;
    this.configExecutor = configExecutor;
    this.poller = poller;
    this.stats = stats;
    this.periodMillis = periodMillis;
  }

  /** Returns the watched file. */
  public Path path() {
    return path;
  }

  @Override
  public synchronized void start() {
    if (task == null) {
      task = poller.scheduleWithFixedDelay(this::poll, 0, periodMillis, TimeUnit.MILLISECONDS);
    }
  }

  /** Returns a future completed once the first read of the file was applied or refused. */
  public CompletableFuture<Void> firstLoad() {
    return firstLoad;
  }

  @Override
  public synchronized void stop() {
    if (task != null) {
      task.cancel(false);
    }
    firstLoad.complete(null);
  }

  private void poll() {
    String stamp;
    try {
      BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
      stamp = a.lastModifiedTime().toMillis() + "/" + a.size() + "/" + a.fileKey();
    } catch (IOException e) {
      if (lastStamp == null && !firstLoad.isDone()) {
        stats.updateAttempt.inc();
        stats.updateFailure.inc();
        Log.warn("config", "Filesystem config update failure: unable to read file: " + path);
        firstLoad.complete(null);
      }
      return;
    }
    if (stamp.equals(lastStamp)) {
      return;
    }
    lastStamp = stamp;
    byte[] content;
    try {
      content = Files.readAllBytes(path);
    } catch (IOException e) {
      return;
    }
    if (Arrays.equals(content, lastContent)) {
      return;
    }
    lastContent = content;
    stats.updateAttempt.inc();
    DiscoveryResponse response;
    try {
      response = ConfigLoader.load(path, DiscoveryResponse.newBuilder()).build();
    } catch (RuntimeException e) {
      stats.updateFailure.inc();
      Log.warn("config", "Filesystem config update failure: " + e.getMessage());
      firstLoad.complete(null);
      return;
    }
    configExecutor.execute(() -> apply(response));
  }

  private void apply(DiscoveryResponse response) {
    try {
      List<Any> resources = response.getResourcesList();
      for (int i = 0; i < resources.size(); i++) {
        if (!resources.get(i).getTypeUrl().equals(type.typeUrl())) {
          throw new ConfigException(
              path + ": resources[" + i + "]",
              "expected type " + type.typeUrl() + ", found " + resources.get(i).getTypeUrl());
        }
      }
      watcher.onConfigUpdate(resources, response.getVersionInfo());
      stats.updateSuccess.inc();
    } catch (RuntimeException e) {
      stats.updateRejected.inc();
      Log.warn("config", "Filesystem config update rejected: " + e.getMessage());
    } finally {
      firstLoad.complete(null);
    }
  }
}
