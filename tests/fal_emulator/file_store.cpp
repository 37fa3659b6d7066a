#include "file_store.hpp"

#include <fstream>
#include <random>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::emulator {
namespace fs = std::filesystem;

std::string random_hex(size_t bytes) {
  static std::mutex mutex;
  static std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::lock_guard lock(mutex);
  std::string text;
  for (size_t i = 0; i < bytes; ++i) {
    const auto byte = static_cast<unsigned>(engine() & 0xffU);
    text += kDigits[byte >> 4U];
    text += kDigits[byte & 0xfU];
  }
  return text;
}

std::string new_request_id() {
  std::string hex = random_hex(16);
  hex[12] = '4';                                                    // version 4
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

namespace {

// Only characters safe in a URL path segment survive; fal also renames uploads.
std::string safe_file_name(const std::string& name) {
  std::string safe;
  for (char c : name) {
    safe +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  }
  if (safe.empty() || safe.front() == '.') safe = "file" + safe;
  return safe;
}

}  // namespace

FileStore::FileStore(fs::path root) : root_(std::move(root)) {
  fs::create_directories(root_ / "files");
  fs::create_directories(root_ / "uploads");
  fs::create_directories(root_ / "scratch");
}

void FileStore::set_base_url(std::string base_url) {
  base_url_ = std::move(base_url);
}

fs::path FileStore::scratch_dir(const std::string& name) const {
  auto dir = root_ / "scratch" / name;
  fs::create_directories(dir);
  return dir;
}

fs::path FileStore::file_path(const std::string& file_id) const {
  return root_ / "files" / file_id;
}

IssuedUpload FileStore::initiate_upload(const std::string& content_type,
                                        const std::string& file_name, bool multipart) {
  const std::string token = random_hex(16);
  PendingUpload pending{random_hex(12), random_hex(16), multipart, {}};
  const std::string name = safe_file_name(file_name);
  IssuedUpload issued;
  issued.upload_url = base_url_ + (multipart ? "/_storage/multipart/" : "/_storage/upload/") +
                      token + "?signature=" + pending.signature;
  issued.file_url = base_url_ + "/files/" + pending.file_id + "/" + name;
  std::lock_guard lock(mutex_);
  reserved_[pending.file_id] = StoredFile{file_path(pending.file_id), content_type, name};
  pending_[token] = std::move(pending);
  return issued;
}

std::optional<fs::path> FileStore::upload_target(const std::string& token,
                                                 const std::string& signature) {
  std::lock_guard lock(mutex_);
  const auto it = pending_.find(token);
  if (it == pending_.end() || it->second.multipart || it->second.signature != signature) {
    return std::nullopt;
  }
  return root_ / "uploads" / (token + ".part");
}

void FileStore::commit_upload(const std::string& token) {
  std::lock_guard lock(mutex_);
  const auto& pending = pending_.at(token);
  const auto& reserved = reserved_.at(pending.file_id);
  fs::rename(root_ / "uploads" / (token + ".part"), reserved.path);
  // A signed URL may be PUT again (fal overwrites), so the pending entry stays.
  files_[pending.file_id] = reserved;
}

std::optional<fs::path> FileStore::part_target(const std::string& token,
                                               const std::string& signature, int part_number) {
  std::lock_guard lock(mutex_);
  const auto it = pending_.find(token);
  if (it == pending_.end() || !it->second.multipart || it->second.signature != signature ||
      part_number < 1 || part_number > 10000) {
    return std::nullopt;
  }
  return root_ / "uploads" / (token + "." + std::to_string(part_number) + ".receiving");
}

UploadedPart FileStore::commit_part(const std::string& token, int part_number) {
  const auto receiving =
      root_ / "uploads" / (token + "." + std::to_string(part_number) + ".receiving");
  const auto done = root_ / "uploads" / (token + "." + std::to_string(part_number) + ".part");
  fs::rename(receiving, done);
  UploadedPart part{part_number, "\"" + random_hex(16) + "\""};
  std::lock_guard lock(mutex_);
  pending_.at(token).part_etags[part_number] = part.etag;
  return part;
}

void FileStore::complete_multipart(const std::string& token, const std::string& signature,
                                   const std::vector<UploadedPart>& parts) {
  std::unique_lock lock(mutex_);
  const auto it = pending_.find(token);
  if (it == pending_.end() || !it->second.multipart || it->second.signature != signature) {
    throw Error("emulator_bad_multipart", "unknown multipart upload or bad signature");
  }
  if (parts.empty()) throw Error("emulator_bad_multipart", "the parts list is empty");
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& part = parts[i];
    if (part.part_number != static_cast<int>(i) + 1) {
      throw Error("emulator_bad_multipart", "parts must be listed in order from 1");
    }
    const auto known = it->second.part_etags.find(part.part_number);
    if (known == it->second.part_etags.end() || known->second != part.etag) {
      throw Error("emulator_bad_multipart",
                  "part " + std::to_string(part.part_number) + " was not uploaded with that etag");
    }
  }
  const auto file_id = it->second.file_id;
  const auto target = reserved_.at(file_id);
  lock.unlock();

  // Join on disk with a small buffer: a 2 GiB upload must not need 2 GiB of memory.
  const auto joining = root_ / "uploads" / (token + ".joining");
  {
    std::ofstream out(joining, std::ios::binary | std::ios::trunc);
    std::vector<char> buffer(1 << 20);
    for (const auto& part : parts) {
      std::ifstream in(
          root_ / "uploads" / (token + "." + std::to_string(part.part_number) + ".part"),
          std::ios::binary);
      while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        out.write(buffer.data(), in.gcount());
      }
    }
    if (!out)
      throw Error("emulator_disk_full", "cannot write the joined upload", "",
                  Permanence::transient);
  }
  fs::rename(joining, target.path);
  for (const auto& part : parts) {
    std::error_code ignored;
    fs::remove(root_ / "uploads" / (token + "." + std::to_string(part.part_number) + ".part"),
               ignored);
  }
  lock.lock();
  files_[file_id] = target;
}

std::optional<StoredFile> FileStore::find_by_path(const std::string& path) const {
  // "/files/<id>/<name>"
  static const std::string prefix = "/files/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  const auto rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto id = rest.substr(0, slash);
  const auto name = rest.substr(slash + 1);
  std::lock_guard lock(mutex_);
  const auto it = files_.find(id);
  if (it == files_.end() || it->second.name != name || !fs::exists(it->second.path)) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<StoredFile> FileStore::find_by_url(const std::string& url) const {
  const auto port_start = base_url_.rfind(':');
  const std::string scheme = base_url_.substr(0, base_url_.find("://") + 3);
  const std::string port = base_url_.substr(port_start);
  for (const auto& origin : {base_url_, scheme + "localhost" + port}) {
    if (url.rfind(origin + "/", 0) == 0) {
      auto path = url.substr(origin.size());
      path = path.substr(0, path.find_first_of("?#"));
      return find_by_path(path);
    }
  }
  return std::nullopt;
}

std::string FileStore::store_output(const fs::path& produced, const std::string& file_name,
                                    const std::string& content_type) {
  const std::string file_id = random_hex(12);
  const std::string name = safe_file_name(file_name);
  StoredFile stored{file_path(file_id), content_type, name};
  fs::rename(produced, stored.path);
  std::lock_guard lock(mutex_);
  files_[file_id] = stored;
  return base_url_ + "/files/" + file_id + "/" + name;
}

}  // namespace lipsyncd::emulator
