#pragma once
// Where a benchmark finds its inputs: build/bin/bench_x -> <repo>/../shared/media and
// ../shared/models, and build/large-media for generated cases, unless bench/run (or a person)
// sets LIPSYNCD_TEST_MEDIA, LIPSYNCD_TEST_MODELS or LIPSYNCD_LARGE_MEDIA. Header-only.

#include <cstdlib>
#include <filesystem>

namespace lipsyncd::bench {

inline std::filesystem::path self_path() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

inline std::filesystem::path env_or(const char* name, const std::filesystem::path& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::filesystem::path(value) : fallback;
}

// <repo>/../shared/<name>: four levels up from build/bin/bench_x.
inline std::filesystem::path shared_folder(const char* name) {
  return self_path().parent_path().parent_path().parent_path().parent_path() / "shared" / name;
}

inline std::filesystem::path media_dir() {
  return env_or("LIPSYNCD_TEST_MEDIA", shared_folder("media"));
}
inline std::filesystem::path models_dir() {
  return env_or("LIPSYNCD_TEST_MODELS", shared_folder("models"));
}
inline std::filesystem::path large_dir() {
  return env_or("LIPSYNCD_LARGE_MEDIA", self_path().parent_path().parent_path() / "large-media");
}

}  // namespace lipsyncd::bench
