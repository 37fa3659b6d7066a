#pragma once
// Where tests find the shared media and the built binaries. A missing folder is a failure,
// never a skip: a test that quietly does nothing proves nothing.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace lipsyncd::test {

// The whole file, as bytes ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::filesystem::path env_path(const char* name, const std::filesystem::path& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::filesystem::path(value) : fallback;
}

// LIPSYNCD_TEST_MEDIA, else the folder CMake was configured with (default ../shared/media).
inline std::filesystem::path media_dir() {
  return env_path("LIPSYNCD_TEST_MEDIA", LIPSYNCD_DEFAULT_TEST_MEDIA);
}

inline std::filesystem::path media(const std::string& file) {
  auto path = media_dir() / file;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "test media missing: " << path
                  << " (set LIPSYNCD_TEST_MEDIA to the shared media folder)";
  }
  return path;
}

// LIPSYNCD_TEST_MODELS, else the folder CMake was configured with (default ../shared/models):
// OpenCV's SSD face detector, which the project does not ship (its weights' terms are unstated).
inline std::filesystem::path models_dir() {
  return env_path("LIPSYNCD_TEST_MODELS", LIPSYNCD_DEFAULT_TEST_MODELS);
}

// The SSD's weights, as [face] ssd_model names them (its text graph lies beside them).
inline std::filesystem::path ssd_model() {
  auto path = models_dir() / "opencv_face_detector_uint8.pb";
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "SSD face model missing: " << path
                  << " (set LIPSYNCD_TEST_MODELS to the shared models folder)";
  }
  return path;
}

inline std::filesystem::path bin_dir() {
  return env_path("LIPSYNCD_BIN_DIR", LIPSYNCD_DEFAULT_BIN_DIR);
}
inline std::filesystem::path source_dir() {
  return env_path("LIPSYNCD_SOURCE_DIR", LIPSYNCD_DEFAULT_SOURCE_DIR);
}

// A fresh, empty folder for one test, removed when it ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lipsyncd-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace lipsyncd::test
