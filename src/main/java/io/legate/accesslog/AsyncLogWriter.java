package io.legate.accesslog;

import io.legate.config.ConfigException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Writes log lines from workers without blocking them: lines go to a bounded queue drained by one
 * daemon thread per destination, flushed at least once a second (Envoy's file flush interval). A
 * full queue drops the line and counts it rather than stall a worker. {@link #reopen()} (admin
 * {@code /reopen_logs}) makes a file writer close and reopen its path before its next write, so a
 * rotated file is left behind and a new one created.
 */
final class AsyncLogWriter {
  private static final Map<String, AsyncLogWriter> WRITERS = new ConcurrentHashMap<>();

  private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(65536);
  private final String path;
  private OutputStream out;
  private volatile boolean reopen;
  final LongAdder dropped = new LongAdder();

  private AsyncLogWriter(String name, OutputStream out) {
    this(name, out, null);
  }

  private AsyncLogWriter(String name, OutputStream out, String path) {
    this.out = out;
    this.path = path;
    Thread t = new Thread(this::run, "legate-accesslog-" + name);
    t.setDaemon(true);
    t.start();
  }

  static AsyncLogWriter stdout() {
    return WRITERS.computeIfAbsent("/dev/stdout", k -> new AsyncLogWriter("stdout", System.out));
  }

  static AsyncLogWriter stderr() {
    return WRITERS.computeIfAbsent("/dev/stderr", k -> new AsyncLogWriter("stderr", System.err));
  }

  static AsyncLogWriter file(String path, String fieldPath) {
    return WRITERS.computeIfAbsent(
        path,
        k -> {
          try {
            return new AsyncLogWriter(path, new FileOutputStream(path, true), path);
          } catch (IOException e) {
            throw new ConfigException(fieldPath, "cannot open access log file '" + path + "': " + e.getMessage());
          }
        });
  }

  /** Asks every file writer to reopen its file before its next write. */
  static void reopenAll() {
    for (AsyncLogWriter w : WRITERS.values()) {
      w.reopen();
    }
  }

  /** Asks this writer to reopen its file before its next write (no-op for stdout/stderr). */
  void reopen() {
    if (path != null) {
      reopen = true;
    }
  }

  void write(String line) {
    if (!queue.offer(line)) {
      dropped.increment();
    }
  }

  private void run() {
    List<String> batch = new ArrayList<>(256);
    while (true) {
      try {
        String first = queue.poll(1, TimeUnit.SECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, 1023);
        StringBuilder sb = new StringBuilder();
        for (String s : batch) {
          sb.append(s);
        }
        batch.clear();
        if (reopen) {
          reopen = false;
          try {
            out.close();
          } catch (IOException ignored) {
            // the old file is gone or broken: the new one is what matters
          }
          out = new FileOutputStream(path, true);
        }
        out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
      } catch (InterruptedException e) {
        return;
      } catch (IOException e) {
        dropped.increment();
      }
    }
  }
}
