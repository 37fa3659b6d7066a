#pragma once
// The emulator's storage: signed upload URLs (single PUT and multipart), the public file URLs
// they turn into, and the generated outputs. Bodies live on disk under the storage folder,
// never in memory. URLs are absolute, built on the emulator's own base URL. Thread-safe.

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lipsyncd::emulator {

struct StoredFile {
  std::filesystem::path path;
  std::string content_type;
  std::string name;
};

struct IssuedUpload {
  std::string upload_url;
  std::string file_url;
};

struct UploadedPart {
  int part_number = 0;
  std::string etag;
};

std::string random_hex(size_t bytes);
std::string new_request_id();  // a UUID v4, fal's request id format

class FileStore {
 public:
  explicit FileStore(std::filesystem::path root);
  void set_base_url(std::string base_url);  // "http://127.0.0.1:PORT", known once bound
  const std::string& base_url() const { return base_url_; }
  std::filesystem::path scratch_dir(const std::string& name) const;

  IssuedUpload initiate_upload(const std::string& content_type, const std::string& file_name,
                               bool multipart);

  // Where the body of a PUT to the single upload URL goes, or nothing when the path/signature
  // pair was never issued. Call commit_upload once the body arrived whole.
  std::optional<std::filesystem::path> upload_target(const std::string& token,
                                                     const std::string& signature);
  void commit_upload(const std::string& token);

  std::optional<std::filesystem::path> part_target(const std::string& token,
                                                   const std::string& signature, int part_number);
  UploadedPart commit_part(const std::string& token, int part_number);
  // Joins the listed parts (all must exist with matching etags) into the file. Throws
  // lipsyncd::Error "emulator_bad_multipart" otherwise.
  void complete_multipart(const std::string& token, const std::string& signature,
                          const std::vector<UploadedPart>& parts);

  // A file by the path of its URL ("/files/<id>/<name>"), once its upload is complete.
  std::optional<StoredFile> find_by_path(const std::string& path) const;
  // A file by an absolute URL, only if this emulator issued it (own base URL or localhost).
  std::optional<StoredFile> find_by_url(const std::string& url) const;
  // Moves a generated file into storage and returns its public URL.
  std::string store_output(const std::filesystem::path& produced, const std::string& file_name,
                           const std::string& content_type);

 private:
  struct PendingUpload {
    std::string file_id;
    std::string signature;
    bool multipart = false;
    std::map<int, std::string> part_etags;
  };
  std::filesystem::path file_path(const std::string& file_id) const;

  std::filesystem::path root_;
  std::string base_url_;
  mutable std::mutex mutex_;
  std::map<std::string, PendingUpload> pending_;  // by upload token
  std::map<std::string, StoredFile> files_;       // by file id, once complete
  std::map<std::string, StoredFile> reserved_;    // by file id, until complete
};

}  // namespace lipsyncd::emulator
