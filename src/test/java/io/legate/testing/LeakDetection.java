package io.legate.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Installs a leak detector at paranoid level that records every leak report, before any test runs.
 * {@link NoLeaksExtension} fails a test when a report appears.
 */
public final class LeakDetection implements LauncherSessionListener {
  private static final List<String> LEAKS = new ArrayList<>();
  private static boolean installed;

  @Override
  public void launcherSessionOpened(LauncherSession session) {
    install();
  }

  /** Installs the recording detector (idempotent). */
  public static synchronized void install() {
    if (installed) {
      return;
    }
    installed = true;
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(
        new ResourceLeakDetectorFactory() {
          @Override
          public <T> ResourceLeakDetector<T> newResourceLeakDetector(
              Class<T> resource, int samplingInterval, long maxActive) {
            return new ResourceLeakDetector<T>(resource, samplingInterval) {
              @Override
              protected void reportTracedLeak(String resourceType, String records) {
                record("LEAK: " + resourceType + records);
                super.reportTracedLeak(resourceType, records);
              }

              @Override
              protected void reportUntracedLeak(String resourceType) {
                record("LEAK: " + resourceType);
                super.reportUntracedLeak(resourceType);
              }
            };
          }
        });
  }

  private static synchronized void record(String leak) {
    LEAKS.add(leak);
  }

  /** Forces collection and leak detection, then returns and clears the reports so far. */
  public static List<String> collect() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      System.runFinalization();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      // Allocating tracked buffers makes the detector drain its reference queue.
      for (int j = 0; j < 8; j++) {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        b.release();
        ByteBuf h = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
        h.release();
      }
    }
    synchronized (LeakDetection.class) {
      List<String> out = new ArrayList<>(LEAKS);
      LEAKS.clear();
      return out;
    }
  }
}
