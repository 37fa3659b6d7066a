#include "lipsyncd/intake/declared_end.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "lipsyncd/core/unique_fd.hpp"

namespace lipsyncd::intake {
namespace {

constexpr std::uint64_t kMaxManifestBytes = 1 << 20;
// A real file has a handful of top-level boxes; thousands means fragments or garbage.
constexpr int kMaxTopLevelBoxes = 4096;

bool read_at(int fd, std::uint64_t offset, unsigned char* into, std::size_t count) {
  std::size_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd, into + done, count - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

std::uint64_t big_endian(const unsigned char* bytes, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) value = (value << 8) | bytes[i];
  return value;
}

std::uint32_t little_endian32(const unsigned char* bytes) {
  return static_cast<std::uint32_t>(bytes[0]) | (static_cast<std::uint32_t>(bytes[1]) << 8) |
         (static_cast<std::uint32_t>(bytes[2]) << 16) |
         (static_cast<std::uint32_t>(bytes[3]) << 24);
}

bool iso_media_is_whole(int fd, std::uint64_t size) {
  std::uint64_t offset = 0;
  int moov = 0, mdat = 0, boxes = 0;
  while (offset < size) {
    if (++boxes > kMaxTopLevelBoxes) return false;
    std::array<unsigned char, 16> header{};
    if (offset + 8 > size || !read_at(fd, offset, header.data(), 8)) return false;
    std::uint64_t box_size = big_endian(header.data(), 4);
    const std::string_view type(reinterpret_cast<const char*>(header.data() + 4), 4);
    std::uint64_t header_size = 8;
    if (box_size == 1) {  // a 64-bit size follows
      if (offset + 16 > size || !read_at(fd, offset + 8, header.data() + 8, 8)) return false;
      box_size = big_endian(header.data() + 8, 8);
      header_size = 16;
    }
    // 0 means "up to the end of the file": it declares no length.
    if (box_size < header_size || box_size > size - offset) return false;
    if (type == "moov") ++moov;
    if (type == "mdat") ++mdat;
    if (type == "moof") return false;  // fragmented: a prefix ending on a fragment is valid
    offset += box_size;
  }
  return offset == size && moov == 1 && mdat == 1;
}

bool riff_is_whole(const unsigned char* head, std::uint64_t size) {
  const std::uint64_t declared = std::uint64_t{little_endian32(head + 4)} + 8;
  return declared == size || declared + 1 == size;  // a pad byte may follow an odd chunk
}

bool json_object_is_whole(int fd, std::uint64_t size) {
  if (size > kMaxManifestBytes) return false;
  std::string text(size, '\0');
  if (!read_at(fd, 0, reinterpret_cast<unsigned char*>(text.data()), text.size())) return false;
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  return !ec && value.is_object();
}

bool has_json_name(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension == ".json";
}

}  // namespace

bool declares_its_own_end(const std::filesystem::path& file) {
  // O_NONBLOCK: if the name was swapped for a FIFO since it was looked at, open() must not
  // wait for a writer; fstat() then refuses it.
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) return false;
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode) || info.st_size <= 0) return false;
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (has_json_name(file)) return json_object_is_whole(fd.get(), size);
  std::array<unsigned char, 12> head{};
  if (size < head.size() || !read_at(fd.get(), 0, head.data(), head.size())) return false;
  const auto at = [&](std::size_t offset, std::string_view magic) {
    return std::memcmp(head.data() + offset, magic.data(), magic.size()) == 0;
  };
  if (at(0, "RIFF") && (at(8, "WAVE") || at(8, "AVI "))) return riff_is_whole(head.data(), size);
  return iso_media_is_whole(fd.get(), size);
}

}  // namespace lipsyncd::intake
