#include "content_hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::spool {
namespace {

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error("internal_error", "cannot initialise SHA-256 (OpenSSL)");
    }
  }
  void update(const void* data, std::size_t size) { EVP_DigestUpdate(context_.get(), data, size); }
  void update(const std::string& text) { update(text.data(), text.size()); }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_.get(), digest.data(), &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (unsigned int i = 0; i < length; ++i) {
      text += kHex[digest[i] >> 4];
      text += kHex[digest[i] & 0xf];
    }
    return text;
  }

 private:
  DigestContext context_;
};

[[noreturn]] void unreadable(const std::filesystem::path& file) {
  throw Error("disk_error", "cannot read " + file.string() + ": " + std::strerror(errno),
              "check the state folder's permissions", Permanence::transient);
}

}  // namespace

std::string sha256_of_file(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) unreadable(file);
  Sha256 digest;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) unreadable(file);
    if (got == 0) break;
    digest.update(buffer.data(), static_cast<std::size_t>(got));
  }
  return digest.hex();
}

std::string job_content_hash(const std::filesystem::path& video, const std::filesystem::path& audio,
                             const std::string& model, const std::optional<SyncMode>& sync_mode) {
  Sha256 digest;
  // A version tag, so a future change of what counts starts a fresh set of keys.
  digest.update("lipsyncd-job-v1\nvideo " + sha256_of_file(video) + "\naudio " +
                sha256_of_file(audio) + "\nmodel " + model + "\nsync_mode " +
                (sync_mode ? std::string(to_string(*sync_mode)) : std::string("policy")) + "\n");
  return digest.hex();
}

}  // namespace lipsyncd::spool
