#include "lipsyncd/media/normalizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "stream_decoder.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace lipsyncd::media {
namespace {

constexpr const char* kDiskHint = "check the free space and permissions of the output folder";

bool is_mp4_family(const std::string& container) {
  return container.starts_with("mov,mp4");
}

// Whether `span` reaches the end of a stream that lasts `duration_s` (within one frame).
bool covers_whole(TimeSpan span, double duration_s, double frame_s) {
  return span.start_s <= frame_s / 2 && span.end_s() >= duration_s - frame_s;
}

// An MP4 or WAV muxer writing to the AtomicFile's temporary name, so the destination only
// ever appears complete.
class OutputFile {
 public:
  OutputFile(const std::filesystem::path& destination, const char* format_name)
      : atomic_(destination) {
    AVFormatContext* raw = nullptr;
    libav::check(avformat_alloc_output_context2(&raw, nullptr, format_name,
                                                atomic_.temporary_path().c_str()),
                 "disk_error", "cannot create", destination, kDiskHint);
    context_.reset(raw);
  }

  AVFormatContext* context() const { return context_.get(); }
  AVStream* add_stream() {
    AVStream* stream = avformat_new_stream(context_.get(), nullptr);
    if (stream == nullptr) throw std::bad_alloc();
    return stream;
  }

  void write_header(bool faststart) {
    libav::check(avio_open(&context_->pb, atomic_.temporary_path().c_str(), AVIO_FLAG_WRITE),
                 "disk_error", "cannot write", atomic_.destination(), kDiskHint);
    AVDictionary* options = nullptr;
    // +faststart moves the index to the front, so fal (and players) can stream the file.
    if (faststart) av_dict_set(&options, "movflags", "+faststart", 0);
    const int result = avformat_write_header(context_.get(), &options);
    av_dict_free(&options);
    libav::check(result, "disk_error", "cannot write", atomic_.destination(), kDiskHint);
  }

  void write(AVPacket* packet) {
    libav::check(av_interleaved_write_frame(context_.get(), packet), "disk_error", "cannot write",
                 atomic_.destination(), kDiskHint);
  }

  void finish() {
    libav::check(av_write_trailer(context_.get()), "disk_error", "cannot finish",
                 atomic_.destination(), kDiskHint);
    avio_closep(&context_->pb);
    atomic_.commit();
  }

 private:
  AtomicFile atomic_;  // destroyed last: removes the temporary file unless committed
  libav::OutputFormat context_;
};

const AVCodec* find_encoder(const char* name) {
  const AVCodec* encoder = avcodec_find_encoder_by_name(name);
  if (encoder == nullptr) {
    throw Error("encoder_missing",
                std::string("the ") + name + " encoder is not available in libavcodec.",
                "install Debian's libavcodec59 with its usual codecs (libx264)");
  }
  return encoder;
}

std::string rotation_filters(int rotation) {
  switch (rotation) {
    case 90:
      return "transpose=clock,";
    case 180:
      return "hflip,vflip,";
    case 270:
      return "transpose=cclock,";
    default:
      return "";
  }
}

// decoder -> [rotate] -> scale -> fps (constant rate) -> yuv420p -> libx264 -> MP4.
class VideoTranscoder {
 public:
  VideoTranscoder(const MediaInfo& info, TimeSpan span, const std::filesystem::path& destination,
                  const MediaConfig& config)
      : info_(info),
        span_(span),
        decoder_(info.file, AVMEDIA_TYPE_VIDEO, 0),
        target_(video_target(*info.video, config)),
        output_(destination, "mp4") {
    build_filters();
    open_encoder(config);
    output_.write_header(true);
  }

  NormalizedFile run(const std::filesystem::path& destination) {
    if (span_.start_s > 0) decoder_.seek(span_.start_s);
    const AVRational input_tb = decoder_.stream()->time_base;
    const double frame_s = 1.0 / std::max(1.0, info_.video->fps);
    int64_t eof_pts = 0;
    while (AVFrame* frame = decoder_.next_frame()) {
      const double t = decoder_.frame_seconds(frame);
      if (t < span_.start_s - frame_s / 2) continue;
      if (t >= span_.end_s() - frame_s / 2) break;
      frame->pts = std::llround((t - span_.start_s) / av_q2d(input_tb));
      const int64_t duration =
          frame->pkt_duration > 0 ? frame->pkt_duration : std::llround(frame_s / av_q2d(input_tb));
      eof_pts = std::max(eof_pts, frame->pts + duration);
      libav::check(av_buffersrc_add_frame_flags(source_, frame, AV_BUFFERSRC_FLAG_KEEP_REF),
                   "not_decodable", "cannot filter a frame of", info_.file);
      pull_filtered();
    }
    // The end time tells the fps filter how long the last frame lasts.
    eof_pts = std::min<int64_t>(eof_pts, std::llround(span_.duration_s / av_q2d(input_tb)));
    libav::check(av_buffersrc_close(source_, eof_pts, AV_BUFFERSRC_FLAG_PUSH), "not_decodable",
                 "cannot filter", info_.file);
    pull_filtered();
    encode(nullptr);
    output_.finish();
    const double seconds = static_cast<double>(frames_encoded_) * target_.fps_den / target_.fps_num;
    return {destination, seconds, NormalizeMethod::transcode};
  }

 private:
  void build_filters() {
    graph_.reset(avfilter_graph_alloc());
    if (!graph_) throw std::bad_alloc();
    AVCodecContext* codec = decoder_.codec();
    const AVRational tb = decoder_.stream()->time_base;
    const AVRational sar =
        codec->sample_aspect_ratio.num > 0 ? codec->sample_aspect_ratio : AVRational{1, 1};
    const std::string source_args =
        "video_size=" + std::to_string(codec->width) + "x" + std::to_string(codec->height) +
        ":pix_fmt=" + std::to_string(codec->pix_fmt) + ":time_base=" + std::to_string(tb.num) +
        "/" + std::to_string(tb.den) + ":pixel_aspect=" + std::to_string(sar.num) + "/" +
        std::to_string(sar.den);
    libav::check(avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in",
                                              source_args.c_str(), nullptr, graph_.get()),
                 "not_decodable", "cannot set up the video filters for", info_.file);
    libav::check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out",
                                              nullptr, nullptr, graph_.get()),
                 "not_decodable", "cannot set up the video filters for", info_.file);
    const std::string chain = rotation_filters(info_.video->rotation) +
                              "scale=" + std::to_string(target_.width) + ":" +
                              std::to_string(target_.height) +
                              ":flags=bicubic,setsar=1,fps=" + std::to_string(target_.fps_num) +
                              "/" + std::to_string(target_.fps_den) + ",format=yuv420p";
    libav::FilterInOut outputs(avfilter_inout_alloc());
    libav::FilterInOut inputs(avfilter_inout_alloc());
    if (!outputs || !inputs) throw std::bad_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = source_;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink_;
    AVFilterInOut* raw_inputs = inputs.release();
    AVFilterInOut* raw_outputs = outputs.release();
    const int parsed =
        avfilter_graph_parse_ptr(graph_.get(), chain.c_str(), &raw_inputs, &raw_outputs, nullptr);
    inputs.reset(raw_inputs);
    outputs.reset(raw_outputs);
    libav::check(parsed, "not_decodable", "cannot set up the video filters for", info_.file);
    libav::check(avfilter_graph_config(graph_.get(), nullptr), "not_decodable",
                 "cannot set up the video filters for", info_.file);
  }

  void open_encoder(const MediaConfig& config) {
    const AVCodec* x264 = find_encoder("libx264");
    encoder_.reset(avcodec_alloc_context3(x264));
    if (!encoder_) throw std::bad_alloc();
    encoder_->width = target_.width;
    encoder_->height = target_.height;
    encoder_->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder_->sample_aspect_ratio = {1, 1};
    encoder_->framerate = {target_.fps_num, target_.fps_den};
    encoder_->time_base = av_buffersink_get_time_base(sink_);
    encoder_->thread_count = 0;
    if ((output_.context()->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    AVDictionary* options = nullptr;
    av_dict_set(&options, "preset", config.x264_preset.c_str(), 0);
    av_dict_set(&options, "crf", std::to_string(config.x264_crf).c_str(), 0);
    const int opened = avcodec_open2(encoder_.get(), x264, &options);
    av_dict_free(&options);
    libav::check(opened, "encoder_missing", "cannot open the H.264 encoder for", info_.file,
                 "check [media] x264_preset and x264_crf");
    stream_ = output_.add_stream();
    libav::check(avcodec_parameters_from_context(stream_->codecpar, encoder_.get()), "disk_error",
                 "cannot prepare", info_.file);
    stream_->time_base = encoder_->time_base;
    stream_->avg_frame_rate = encoder_->framerate;
  }

  void pull_filtered() {
    while (true) {
      const int got = av_buffersink_get_frame(sink_, filtered_.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      libav::check(got, "not_decodable", "cannot filter", info_.file);
      filtered_->pict_type = AV_PICTURE_TYPE_NONE;
      encode(filtered_.get());
      av_frame_unref(filtered_.get());
    }
  }

  void encode(const AVFrame* frame) {
    libav::check(avcodec_send_frame(encoder_.get(), frame), "not_decodable", "cannot encode",
                 info_.file);
    if (frame != nullptr) ++frames_encoded_;
    while (true) {
      const int got = avcodec_receive_packet(encoder_.get(), packet_.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      libav::check(got, "not_decodable", "cannot encode", info_.file);
      av_packet_rescale_ts(packet_.get(), encoder_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      output_.write(packet_.get());
    }
  }

  const MediaInfo& info_;
  TimeSpan span_;
  StreamDecoder decoder_;
  VideoTarget target_;
  OutputFile output_;
  libav::FilterGraph graph_;
  AVFilterContext* source_ = nullptr;  // owned by graph_
  AVFilterContext* sink_ = nullptr;    // owned by graph_
  libav::CodecContext encoder_;
  AVStream* stream_ = nullptr;  // owned by output_
  libav::Frame filtered_ = libav::make_frame();
  libav::Packet packet_ = libav::make_packet();
  long frames_encoded_ = 0;
};

// Copies the compressed video packets into a fresh MP4: no decoding, no quality loss.
NormalizedFile remux_video(const MediaInfo& info, const std::filesystem::path& destination) {
  libav::InputFormat input = open_input(info.file);
  const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  libav::check(index, "no_video_stream", "no video stream in", info.file);
  const AVStream* in_stream = input->streams[index];
  OutputFile output(destination, "mp4");
  AVStream* out_stream = output.add_stream();
  libav::check(avcodec_parameters_copy(out_stream->codecpar, in_stream->codecpar), "disk_error",
               "cannot prepare", info.file);
  out_stream->codecpar->codec_tag = 0;  // the MP4 muxer picks its own tag (avc1)
  out_stream->time_base = in_stream->time_base;
  out_stream->avg_frame_rate = in_stream->avg_frame_rate;
  output.write_header(true);
  libav::Packet packet = libav::make_packet();
  while (true) {
    const int read = av_read_frame(input.get(), packet.get());
    if (read == AVERROR_EOF) break;
    libav::check(read, "not_decodable", "cannot read", info.file);
    if (packet->stream_index == index) {
      av_packet_rescale_ts(packet.get(), in_stream->time_base, out_stream->time_base);
      packet->stream_index = out_stream->index;
      packet->pos = -1;
      output.write(packet.get());
    }
    av_packet_unref(packet.get());
  }
  output.finish();
  return {destination, info.video->duration_s, NormalizeMethod::remux};
}

// decoder -> resample to packed s16 (target rate) -> pcm_s16le -> WAV, stopping at the span.
NormalizedFile transcode_audio(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  StreamDecoder decoder(info.file, AVMEDIA_TYPE_AUDIO, 1);
  AVCodecContext* codec = decoder.codec();
  const int rate = config.audio_sample_rate > 0 ? config.audio_sample_rate : codec->sample_rate;
  AVChannelLayout layout;
  // Speech needs no surround: more than two channels are mixed down to stereo.
  av_channel_layout_default(&layout, std::min(2, std::max(1, codec->ch_layout.nb_channels)));

  SwrContext* raw = nullptr;
  libav::check(swr_alloc_set_opts2(&raw, &layout, AV_SAMPLE_FMT_S16, rate, &codec->ch_layout,
                                   codec->sample_fmt, codec->sample_rate, 0, nullptr),
               "not_decodable", "cannot convert the audio of", info.file);
  libav::Swr resampler(raw);
  libav::check(swr_init(resampler.get()), "not_decodable", "cannot convert the audio of",
               info.file);

  OutputFile output(destination, "wav");
  const AVCodec* pcm = find_encoder("pcm_s16le");
  libav::CodecContext encoder(avcodec_alloc_context3(pcm));
  if (!encoder) throw std::bad_alloc();
  encoder->sample_fmt = AV_SAMPLE_FMT_S16;
  encoder->sample_rate = rate;
  libav::check(av_channel_layout_copy(&encoder->ch_layout, &layout), "not_decodable",
               "cannot convert the audio of", info.file);
  encoder->time_base = {1, rate};
  libav::check(avcodec_open2(encoder.get(), pcm, nullptr), "encoder_missing",
               "cannot open the PCM encoder for", info.file);
  AVStream* stream = output.add_stream();
  libav::check(avcodec_parameters_from_context(stream->codecpar, encoder.get()), "disk_error",
               "cannot prepare", info.file);
  stream->time_base = encoder->time_base;
  output.write_header(false);

  const int64_t skip = std::llround(span.start_s * rate);
  const int64_t limit = span.duration_s > 0 ? std::llround(span.end_s() * rate) : INT64_MAX;
  int64_t position = 0;  // output samples produced so far, skipped ones included
  int64_t written = 0;
  libav::Frame converted = libav::make_frame();
  libav::Packet packet = libav::make_packet();

  const auto encode = [&](const AVFrame* frame) {
    libav::check(avcodec_send_frame(encoder.get(), frame), "not_decodable", "cannot encode",
                 info.file);
    while (avcodec_receive_packet(encoder.get(), packet.get()) == 0) {
      av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      output.write(packet.get());
    }
  };
  // Converts (or, with no input, flushes) and writes the part inside the span.
  const auto convert_and_write = [&](const AVFrame* input) {
    const int in_samples = input != nullptr ? input->nb_samples : 0;
    const int capacity = swr_get_out_samples(resampler.get(), in_samples) + 32;
    av_frame_unref(converted.get());
    converted->format = AV_SAMPLE_FMT_S16;
    converted->sample_rate = rate;
    libav::check(av_channel_layout_copy(&converted->ch_layout, &layout), "not_decodable",
                 "cannot convert the audio of", info.file);
    converted->nb_samples = capacity;
    libav::check(av_frame_get_buffer(converted.get(), 0), "not_decodable",
                 "cannot convert the audio of", info.file);
    const int produced = swr_convert(
        resampler.get(), converted->data, capacity,
        input != nullptr ? const_cast<const uint8_t**>(input->extended_data) : nullptr, in_samples);
    libav::check(produced, "not_decodable", "cannot convert the audio of", info.file);
    int64_t begin = std::max<int64_t>(0, skip - position);
    int64_t end = std::min<int64_t>(produced, limit - position);
    position += produced;
    if (end <= begin) return;
    const int bytes_per_sample = 2 * layout.nb_channels;
    if (begin > 0) {
      std::memmove(converted->data[0], converted->data[0] + begin * bytes_per_sample,
                   static_cast<size_t>((end - begin) * bytes_per_sample));
    }
    converted->nb_samples = static_cast<int>(end - begin);
    converted->pts = written;
    written += end - begin;
    encode(converted.get());
  };

  while (const AVFrame* frame = decoder.next_frame()) {
    convert_and_write(frame);
    if (position >= limit) break;
  }
  if (position < limit) convert_and_write(nullptr);
  encode(nullptr);
  output.finish();
  av_channel_layout_uninit(&layout);
  return {destination, static_cast<double>(written) / rate, NormalizeMethod::transcode};
}

// A compliant WAV is copied byte for byte (through the same atomic rename).
NormalizedFile copy_audio(const MediaInfo& info, const std::filesystem::path& destination) {
  std::ifstream in(info.file, std::ios::binary);
  if (!in) {
    throw Error("file_not_found", "cannot read " + info.file.string() + ".",
                "check the path and the file's permissions");
  }
  AtomicFile out(destination);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    out.write(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  out.commit();
  return {destination, info.audio->duration_s, NormalizeMethod::pass_through};
}

void require_video(const MediaInfo& info) {
  if (!info.video) {
    throw Error("no_video_stream", info.file.filename().string() + " has no video stream.",
                "use a video file that shows the speaker");
  }
}

void require_audio(const MediaInfo& info) {
  if (!info.audio) {
    throw Error("no_audio_stream", info.file.filename().string() + " has no audio stream.",
                "use a file that contains the speech to lip-sync to");
  }
}

}  // namespace

std::string_view to_string(NormalizeMethod method) noexcept {
  switch (method) {
    case NormalizeMethod::pass_through:
      return "pass_through";
    case NormalizeMethod::remux:
      return "remux";
    case NormalizeMethod::transcode:
      return "transcode";
  }
  return "transcode";
}

VideoTarget video_target(const VideoStreamInfo& video, const MediaConfig& config) {
  VideoTarget target;
  double width = video.display_width();
  double height = video.display_height();
  if (config.max_height > 0 && height > config.max_height) {
    width = width * config.max_height / height;
    height = config.max_height;
  }
  // Round down to even so the picture is never enlarged (721 -> 720, not 722).
  target.width = std::max(2, static_cast<int>(width) / 2 * 2);
  target.height = std::max(2, static_cast<int>(height) / 2 * 2);
  const double fps = video.fps > 0 ? video.fps : 30;
  // Common NTSC rates keep their exact fraction; anything else is rounded to a whole rate.
  for (const double ntsc : {23.976, 29.97, 59.94}) {
    if (std::fabs(fps - ntsc) < 0.01) {
      target.fps_num = static_cast<int>(std::lround(ntsc * 1.001)) * 1000;
      target.fps_den = 1001;
      return target;
    }
  }
  target.fps_num = std::clamp(static_cast<int>(std::lround(fps)), 1, 120);
  target.fps_den = 1;
  return target;
}

bool video_needs_transcode(const MediaInfo& info, TimeSpan span, const MediaConfig& config) {
  if (!info.video) return true;
  const VideoStreamInfo& v = *info.video;
  const double frame_s = v.fps > 0 ? 1.0 / v.fps : 1.0 / 30;
  const bool remuxable_container =
      is_mp4_family(info.container) || info.container == "matroska,webm";
  return !(v.codec == "h264" && v.pixel_format == "yuv420p" && !v.variable_frame_rate &&
           v.rotation == 0 && v.width % 2 == 0 && v.height % 2 == 0 &&
           (config.max_height <= 0 || v.height <= config.max_height) && remuxable_container &&
           covers_whole(span, std::min(info.duration_s, v.duration_s), frame_s));
}

bool audio_needs_transcode(const MediaInfo& info, TimeSpan span, const MediaConfig& config) {
  if (!info.audio) return true;
  const AudioStreamInfo& a = *info.audio;
  return !(info.container == "wav" && a.codec == "pcm_s16le" &&
           (config.audio_sample_rate <= 0 || config.audio_sample_rate == a.sample_rate) &&
           covers_whole(span, audio_seconds(info), 1.0 / std::max(1, a.sample_rate)));
}

NormalizedFile normalize_video(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  libav::initialize();
  require_video(info);
  if (span.duration_s <= 0) span = {0, video_seconds(info)};
  if (!video_needs_transcode(info, span, config)) return remux_video(info, destination);
  VideoTranscoder transcoder(info, span, destination, config);
  return transcoder.run(destination);
}

NormalizedFile normalize_audio(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  libav::initialize();
  require_audio(info);
  if (span.duration_s <= 0) span = {0, audio_seconds(info)};
  if (!audio_needs_transcode(info, span, config)) return copy_audio(info, destination);
  return transcode_audio(info, span, destination, config);
}

}  // namespace lipsyncd::media
