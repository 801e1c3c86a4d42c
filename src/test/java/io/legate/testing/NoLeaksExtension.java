package io.legate.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reported a buffer leak while it ran. Registered for every test
 * class through JUnit's extension auto-detection.
 */
public final class NoLeaksExtension implements BeforeAllCallback, AfterAllCallback {
  @Override
  public void beforeAll(ExtensionContext context) {
    LeakDetection.install();
    LeakDetection.collect(); // leaks of earlier classes were reported there
  }

  @Override
  public void afterAll(ExtensionContext context) {
    assertThat(LeakDetection.collect()).as("Netty buffer leaks in " + context.getDisplayName()).isEmpty();
  }
}
