#include "output_file.hpp"

#include <new>
#include <string>

#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd::media {
namespace {

constexpr const char* kDiskHint = "check the free space and permissions of the output folder";

}  // namespace

OutputFile::OutputFile(const std::filesystem::path& destination, const char* format_name)
    : atomic_(destination) {
  AVFormatContext* raw = nullptr;
  libav::check(
      avformat_alloc_output_context2(&raw, nullptr, format_name, atomic_.temporary_path().c_str()),
      "disk_error", "cannot create", destination, kDiskHint);
  context_.reset(raw);
}

AVStream* OutputFile::add_stream() {
  AVStream* stream = avformat_new_stream(context_.get(), nullptr);
  if (stream == nullptr) throw std::bad_alloc();
  return stream;
}

void OutputFile::write_header(bool faststart) {
  libav::check(avio_open(&context_->pb, atomic_.temporary_path().c_str(), AVIO_FLAG_WRITE),
               "disk_error", "cannot write", atomic_.destination(), kDiskHint);
  AVDictionary* options = nullptr;
  if (faststart) av_dict_set(&options, "movflags", "+faststart", 0);
  const int result = avformat_write_header(context_.get(), &options);
  av_dict_free(&options);
  libav::check(result, "disk_error", "cannot write", atomic_.destination(), kDiskHint);
}

void OutputFile::write(AVPacket* packet) {
  libav::check(av_interleaved_write_frame(context_.get(), packet), "disk_error", "cannot write",
               atomic_.destination(), kDiskHint);
}

void OutputFile::finish() {
  libav::check(av_write_trailer(context_.get()), "disk_error", "cannot finish",
               atomic_.destination(), kDiskHint);
  avio_closep(&context_->pb);
  atomic_.commit();
}

const AVCodec* find_encoder(const char* name) {
  const AVCodec* encoder = avcodec_find_encoder_by_name(name);
  if (encoder == nullptr) {
    throw Error("encoder_missing",
                std::string("the ") + name + " encoder is not available in libavcodec.",
                "install Debian's libavcodec59 with its usual codecs (libx264)");
  }
  return encoder;
}

}  // namespace lipsyncd::media
