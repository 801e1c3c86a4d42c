package io.legate.tls;

import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.legate.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads Envoy's {@code DataSource}: a file, inline bytes, an inline string or an environment variable. */
public final class DataSources {
  private DataSources() {}

  /** Returns the bytes of {@code ds}; {@code path} is the DataSource's field path for errors. */
  public static byte[] read(DataSource ds, String path) {
    switch (ds.getSpecifierCase()) {
      case FILENAME -> {
        String f = ds.getFilename();
        try {
          return Files.readAllBytes(Path.of(f));
        } catch (NoSuchFileException e) {
          throw new ConfigException(path + ".filename", "cannot read file '" + f + "': no such file");
        } catch (IOException | RuntimeException e) {
          throw new ConfigException(path + ".filename", "cannot read file '" + f + "': " + e.getMessage());
        }
      }
      case INLINE_BYTES -> {
        return ds.getInlineBytes().toByteArray();
      }
      case INLINE_STRING -> {
        return ds.getInlineString().getBytes(StandardCharsets.UTF_8);
      }
      case ENVIRONMENT_VARIABLE -> {
        String v = System.getenv(ds.getEnvironmentVariable());
        if (v == null) {
          throw new ConfigException(
              path + ".environment_variable", "environment variable '" + ds.getEnvironmentVariable() + "' is not set");
        }
        return v.getBytes(StandardCharsets.UTF_8);
      }
      default -> throw new ConfigException(path, "one of filename, inline_bytes, inline_string, environment_variable must be set");
    }
  }
}
