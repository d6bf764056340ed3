// Issue 9, command line and input: thread cap, text encodings, line-buffered stdout, calibration
// messages naming the file, canonical model paths, convert writing all or nothing, early checks of
// output paths, progress on stderr.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/needle.h"
#include "skvq/quant_config.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "test_util.h"

namespace fs = std::filesystem;
using skvq::TextCheck;

namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

std::string skvq_bin() { return skvq::test::built("app/skvq"); }

// Runs `shell` (a command line using $SKVQ for the program) under bash.
Result sh(const std::string& shell) {
  Result r;
  const std::string cmd = "SKVQ_DATA_DIR='" + skvq::test::data_dir() + "' SKVQ='" + skvq_bin() + "' bash -c '" + shell +
                          "'";
  const auto res = skvq::test::run_command(cmd);
  r.code = res.code;
  r.out = res.out;
  return r;
}

// The first column of the first row of `sql` on the store at `db` ("" if none).
std::string query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class CliInput : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(skvq_bin())) GTEST_SKIP() << "skvq not built at " << skvq_bin();
    dir_ = fs::weakly_canonical(skvq::test::temp_dir("cli-input")).string();
    model_ = skvq::test::stories_model();
    text_ = skvq::test::data("text/tinystories/tinystories_val.txt");
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
      fs::remove_all(dir_);
    }
  }
  std::string p(const std::string& name) const { return dir_ + "/" + name; }
  std::string db() const { return "--db " + p("runs.sqlite"); }
  std::string dir_, model_, text_;
};

}  // namespace

// ---- 1. --threads ---------------------------------------------------------------------------

TEST(Threads, MoreThanTheHardwareIsCappedToIt) {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  if (hw <= 0) GTEST_SKIP() << "hardware concurrency unknown";
  EXPECT_EQ(skvq::set_threads(100000), hw);
  EXPECT_EQ(skvq::set_threads(hw + 1), hw);
  EXPECT_EQ(skvq::set_threads(1), 1);
  EXPECT_EQ(skvq::set_threads(0), hw);
}

TEST_F(CliInput, ThreadsBeyondTheHardwareWarnOnStderr) {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  if (hw <= 0) GTEST_SKIP() << "hardware concurrency unknown";
  auto r = sh("$SKVQ --threads 100000 info --model " + model_);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "skvq: warning: 100000 threads asked for, but this machine has " + std::to_string(hw) +
                                  " hardware threads; using " + std::to_string(hw)))
      << r.out;
}

// ---- 2. text that is not UTF-8 --------------------------------------------------------------

TEST(TextCheck, ClassifiesHandMadeBytes) {
  using std::string_literals::operator""s;
  auto kind = [](const std::string& b) { return skvq::inspect_text(b).kind; };
  auto offset = [](const std::string& b) { return skvq::inspect_text(b).offset; };
  EXPECT_EQ(kind("plain ASCII\n"), TextCheck::Ok);
  EXPECT_EQ(kind("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), TextCheck::Ok);  // 2, 3 and 4-byte UTF-8
  EXPECT_EQ(kind(""), TextCheck::Ok);
  EXPECT_EQ(kind("\xFF\xFEh\0i\0"s), TextCheck::Utf16Bom);
  EXPECT_EQ(kind("\xFE\xFF\0h\0i"s), TextCheck::Utf16Bom);
  EXPECT_EQ(kind("h\0e\0l\0l\0o\0"s), TextCheck::Utf16);  // UTF-16LE without a mark: 5 NULs in 10 bytes
  EXPECT_EQ(offset("h\0e\0l\0l\0o\0"s), 1);
  EXPECT_EQ(kind("ELF header then text: \x01\x02\0 and more text here"s), TextCheck::Binary);
  EXPECT_EQ(offset("ELF header then text: \x01\x02\0 and more text here"s), 24);
  EXPECT_EQ(kind("caf\xE9 au lait"), TextCheck::InvalidUtf8);  // Latin-1 e-acute
  EXPECT_EQ(offset("caf\xE9 au lait"), 3);
  EXPECT_EQ(kind("\xC0\xAF"), TextCheck::InvalidUtf8);          // overlong '/'
  EXPECT_EQ(kind("a\xED\xA0\x80"), TextCheck::InvalidUtf8);      // UTF-16 surrogate D800
  EXPECT_EQ(kind("\xF4\x90\x80\x80"), TextCheck::InvalidUtf8);   // past U+10FFFF
  EXPECT_EQ(kind("ok \xE2\x82"), TextCheck::InvalidUtf8);        // truncated sequence
  EXPECT_EQ(offset("ok \xE2\x82"), 3);
}

TEST_F(CliInput, BinaryAndUtf16TextsAreRefusedNamingTheFile) {
  const std::string story = skvq::read_text(text_, 3000);
  std::string utf16 = "\xFF\xFE";
  for (char c : story) utf16 += std::string{c, '\0'};  // ASCII story as UTF-16LE
  write_file(p("utf16.txt"), utf16);
  write_file(p("nobom.txt"), utf16.substr(2));
  write_file(p("binary.txt"), story.substr(0, 1000) + std::string("\0\x01\x02", 3) + story.substr(1000));
  for (const auto& [file, what] : std::vector<std::pair<std::string, std::string>>{
           {"utf16.txt", "is UTF-16 text (byte-order mark), expected UTF-8"},
           {"nobom.txt", "looks like UTF-16 text"},
           {"binary.txt", "is binary, not text (NUL byte at byte 1000)"}}) {
    auto r = sh("$SKVQ " + db() + " ppl --model " + model_ + " --text " + p(file) + " --max-chunks 1 --ctx-len 64");
    EXPECT_EQ(r.code, 1) << file << ": " << r.out;
    EXPECT_TRUE(contains(r.out, p(file) + ": " + what)) << r.out;
    r = sh("$SKVQ " + db() + " calibrate --model " + model_ + " --text " + p(file) + " --samples 1 --seq-len 32 --out " +
           p("cal.json"));
    EXPECT_EQ(r.code, 1) << file << ": " << r.out;
    EXPECT_TRUE(contains(r.out, p(file) + ": " + what)) << r.out;
  }
  EXPECT_FALSE(fs::exists(p("cal.json")));
  // A needle haystack essay that is binary.
  fs::create_directories(p("hay"));
  write_file(p("hay/a.txt"), story);
  write_file(p("hay/b.txt"), std::string("\0\0\0\x01", 4) + story);
  try {
    skvq::load_haystack(p("hay"));
    ADD_FAILURE() << "binary essay accepted";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(std::string(e.what()), p("hay/b.txt") + ": is binary, not text (NUL byte at byte 0)");
  }
}

TEST_F(CliInput, Latin1TextIsAWarningNamingTheFileOnce) {
  std::string story = skvq::read_text(text_, 3000);
  story[100] = '\xE9';  // a Latin-1 byte, alone
  write_file(p("latin1.txt"), story);
  auto r = sh("$SKVQ " + db() + " calibrate --model " + model_ + " --text " + p("latin1.txt") +
              " --samples 1 --seq-len 32 --group-sizes 8 --out " + p("cal.json"));
  EXPECT_EQ(r.code, 0) << r.out;
  const std::string warning =
      "skvq: warning: " + p("latin1.txt") + ": not valid UTF-8 (first bad byte 0xE9 at byte 100; Latin-1?)";
  EXPECT_TRUE(contains(r.out, warning)) << r.out;
  EXPECT_EQ(r.out.find(warning), r.out.rfind(warning)) << "warned more than once: " << r.out;
  EXPECT_TRUE(fs::exists(p("cal.json")));
  // Bytes beyond --max-bytes are not read, so they are not inspected either.
  r = sh("$SKVQ " + db() + " ppl --model " + model_ + " --text " + p("latin1.txt") +
         " --max-bytes 90 --ctx-len 16 --max-chunks 1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(contains(r.out, "not valid UTF-8")) << r.out;
}

TEST(ReadText, ReadsOnlyTheAskedBytesOnCharacterBoundaries) {
  const std::string dir = skvq::test::temp_dir("read-text");
  const std::string f = dir + "/t.txt";
  write_file(f, "ab\xC3\xA9" "cd\xE2\x82\xAC" "ef");  // a b é c d € e f: bytes 0..11
  EXPECT_EQ(skvq::read_text(f), "ab\xC3\xA9" "cd\xE2\x82\xAC" "ef");
  EXPECT_EQ(skvq::read_text(f, 3), "ab");                       // é would be cut: stop before it
  EXPECT_EQ(skvq::read_text(f, 4), "ab\xC3\xA9");
  EXPECT_EQ(skvq::read_text(f, 5, 3), "cd\xE2\x82\xAC");        // skip lands inside é: start at c
  EXPECT_EQ(skvq::read_text(f, 4, 3), "cd");                    // 4 bytes from c would cut €
  EXPECT_EQ(skvq::read_text(f, 0, 7), "ef");                    // skip lands inside €
  EXPECT_EQ(skvq::read_text(f, 100, 10), "f");
  EXPECT_THROW(skvq::read_text(f, 0, 12), skvq::FileError);     // nothing left
  // A limit far beyond the file reads the file, and allocates no more (fuzz finding: 2e12 asked
  // for 2 TB, INT64_MAX threw std::length_error).
  EXPECT_EQ(skvq::read_text(f, int64_t{2000000000000}), "ab\xC3\xA9" "cd\xE2\x82\xAC" "ef");
  EXPECT_EQ(skvq::read_text(f, std::numeric_limits<int64_t>::max(), 10), "f");
  // Reads cross the 1 MiB blocks: 3 MiB minus a byte of 'x', then '\xC3\xA9'.
  const std::string big = std::string((size_t{3} << 20) - 1, 'x') + "\xC3\xA9";
  write_file(f, big);
  EXPECT_EQ(skvq::read_text(f, (int64_t{3} << 20) + 1), big);
  EXPECT_EQ(skvq::read_text(f, int64_t{3} << 20), big.substr(0, (size_t{3} << 20) - 1));  // é would be cut
  EXPECT_EQ(skvq::read_text(f, int64_t{1} << 40), big);
  fs::remove_all(dir);
}

// ---- 3. stdout line-buffered ------------------------------------------------------------------

// `skvq batch > log` killed with SIGKILL after its second stored run: the first run's line is
// in the log (block-buffered stdout lost every line before).
TEST_F(CliInput, BatchLogHasEachStoredRunBeforeTheProcessEnds) {
  nlohmann::json job = {{"model", "models/stories260K/stories260K.bin"},
                        {"ppl", {{"text", "text/tinystories/tinystories_val.txt"}, {"ctx_len", 256}, {"max_chunks", 40}}},
                        {"configs", {"fp16", "k4-v4-g8-rtn", "k3-v3-g8-rtn", "k2-v2-g8-rtn", "k2-v2-g16-rtn",
                                     "k2-v2-g32-rtn", "k4-v4-g16-rtn", "k4-v4-g32-rtn", "k3-v3-g16-rtn"}}};
  std::ofstream(p("job.json")) << job.dump(2);
  const std::string db = p("runs.sqlite"), log = p("log.txt");
  pid_t pid = fork();
  if (pid == 0) {
    setenv("SKVQ_DATA_DIR", skvq::test::data_dir().c_str(), 1);
    if (!freopen(log.c_str(), "w", stdout)) _exit(127);
    execl(skvq_bin().c_str(), "skvq", "--threads", "1", "--db", db.c_str(), "batch", p("job.json").c_str(), nullptr);
    _exit(127);
  }
  int done = 0;
  for (int i = 0; i < 1200 && done < 2; ++i) {  // waits (up to 4 min) for two stored runs
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (fs::exists(db)) done = std::atoi(query(db, "SELECT count(*) FROM runs WHERE status = 'done'").c_str());
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_GE(done, 2) << "no two runs finished";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the batch ended before it was killed; make the job longer";
  const std::string out = skvq::read_file(log);
  EXPECT_TRUE(contains(out, "[1/9] fp16: PPL ")) << out;
  EXPECT_TRUE(contains(out, "), run 1\n")) << out;
}

// ---- 5. calibration messages name the file; model paths are canonical -------------------------

TEST_F(CliInput, CalibrationProblemsNameTheFile) {
  auto r = sh("$SKVQ " + db() + " calibrate --model " + model_ + " --text " + text_ +
              " --max-bytes 20000 --samples 2 --seq-len 64 --group-sizes 8 --out " + p("cal.json"));
  ASSERT_EQ(r.code, 0) << r.out;
  // A label outside 0..k-1 (stories260K: 32 channels, group size 8: k = 4).
  nlohmann::json j = nlohmann::json::parse(skvq::read_file(p("cal.json")));
  j["layers"][2]["v"]["labels"]["8"][5] = 7;
  std::ofstream(p("bad-label.json")) << j.dump();
  try {
    skvq::Calibration::load(p("bad-label.json"));
    ADD_FAILURE() << "bad label accepted";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(std::string(e.what()), p("bad-label.json") +
                                         ": invalid calibration file: layer 2 V, group size 8: cluster label 7 outside 0..3");
  }
  j = nlohmann::json::parse(skvq::read_file(p("cal.json")));
  j["layers"][1]["k"]["labels"]["8"].erase(0);
  std::ofstream(p("short-labels.json")) << j.dump();
  try {
    skvq::Calibration::load(p("short-labels.json"));
    ADD_FAILURE() << "short labels accepted";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(std::string(e.what()), p("short-labels.json") +
                                         ": invalid calibration file: layer 1 K, group size 8: 31 labels for 32 kv_channels");
  }
  // A group size the file has no clusters for.
  r = sh("$SKVQ " + db() + " ppl --model " + model_ + " --text " + text_ + " --calib " + p("cal.json") +
         " --quant k2-v2-g16-reorder --max-chunks 1 --ctx-len 64");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "calibration " + p("cal.json") + " has no channel clusters for group size 16 (it has 8)"))
      << r.out;
}

TEST_F(CliInput, RelativeModelPathsAreStoredAbsolute) {
  fs::create_directories(p("models/sub"));
  fs::copy_file(model_, p("models/sub/m.bin"));
  fs::copy_file(skvq::test::stories_tokenizer(), p("models/sub/tok512.bin"));
  fs::create_directory_symlink(p("models/sub"), p("link"));
  auto r = sh("cd " + dir_ + "/models && $SKVQ --db ../runs.sqlite ppl --model ./sub/../sub/m.bin --text " + text_ +
              " --max-chunks 1 --ctx-len 64");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(query(p("runs.sqlite"), "SELECT path FROM models"), p("models/sub/m.bin"));
  r = sh("cd " + dir_ + " && $SKVQ --db runs.sqlite ppl --model link/m.bin --text " + text_ +
         " --max-chunks 1 --ctx-len 64");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(query(p("runs.sqlite"), "SELECT count(DISTINCT path) FROM models"), "1");
}

// ---- 6. calibrate: same result, progress on stderr ----------------------------------------------

// The command line's calibration equals calibrate() on the whole text tokenized in this process:
// reading the text once and only up to --max-bytes changed nothing.
TEST_F(CliInput, CalibrateEqualsTheLibraryOnTheWholeText) {
  for (const int64_t max_bytes : {int64_t{0}, int64_t{30000}}) {
    auto r = sh("$SKVQ --threads 1 " + db() + " calibrate --model " + model_ + " --text " + text_ + " --max-bytes " +
                std::to_string(max_bytes) + " --samples 3 --seq-len 48 --group-sizes 8,16 --seed 7 --out " +
                p("cal.json"));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(contains(r.out, "calibrate: 5/5 steps")) << r.out;  // progress (stderr is not a terminal)
    const auto got = skvq::Calibration::load(p("cal.json"));
    skvq::set_threads(1);  // as the command: sums in the same order
    auto lm = skvq::load_model_for_eval(model_, "", "cpu", "float32");
    std::string text = skvq::read_file(text_);
    if (max_bytes > 0) {
      size_t n = static_cast<size_t>(max_bytes);
      while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // UTF-8 boundary
      text.resize(n);
    }
    skvq::CalibrationOptions opt;
    opt.samples = 3;
    opt.seq_len = 48;
    opt.group_sizes = {8, 16};
    opt.seed = 7;
    const auto want = skvq::calibrate(*lm.model, lm.tokenizer->encode(text, true), opt);
    ASSERT_EQ(got.layers.size(), want.layers.size());
    EXPECT_EQ(got.text_sha256, skvq::sha256_hex(text));
    for (size_t l = 0; l < want.layers.size(); ++l) {
      EXPECT_EQ(got.layers[l].k.min, want.layers[l].k.min) << "layer " << l;
      EXPECT_EQ(got.layers[l].v.absmax, want.layers[l].v.absmax) << "layer " << l;
      EXPECT_EQ(got.layers[l].k_clusters.at(16).labels, want.layers[l].k_clusters.at(16).labels) << "layer " << l;
    }
  }
}

TEST_F(CliInput, AnalyzeAndBenchShowProgressOnStderr) {
  auto r = sh("$SKVQ " + db() + " analyze --model " + model_ + " --text " + text_ + " --max-tokens 64 2>&1 >/dev/null");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* line : {"analyze: 0/4 steps", "analyze: 1/4 steps", "analyze: 4/4 steps"})
    EXPECT_TRUE(contains(r.out, line)) << r.out;
  r = sh("$SKVQ bench --ctx 64 128 --reps 1 2>&1 >/dev/null");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* line : {"bench: 0/7 timings", "bench: 1/7 timings", "bench: 7/7 timings"})
    EXPECT_TRUE(contains(r.out, line)) << r.out;
}

// ---- 7. convert writes all or nothing; needle --export checked first ------------------------------

// A file-size limit of 64 KiB (like a full disk) makes model.safetensors (1 MB) fail mid-way.
TEST_F(CliInput, ConvertOnAFullDiskLeavesNoPartialFolder) {
  const std::string limited = "trap \"\" XFSZ; ulimit -f 64; $SKVQ convert --model " + model_ + " --out ";
  auto r = sh(limited + p("new"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "model.safetensors: write failed (disk full?)")) << r.out;
  EXPECT_FALSE(fs::exists(p("new")));
  // An existing model folder: what was there stays as it was.
  fs::create_directories(p("old"));
  write_file(p("old/config.json"), "{\"old\": true}\n");
  write_file(p("old/notes.txt"), "keep me\n");
  r = sh(limited + p("old"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(skvq::read_file(p("old/config.json")), "{\"old\": true}\n");
  EXPECT_EQ(skvq::read_file(p("old/notes.txt")), "keep me\n");
  EXPECT_FALSE(fs::exists(p("old/model.safetensors")));
  for (const auto& e : fs::directory_iterator(dir_))  // no staging folder left behind
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  // Without the limit the same command replaces the files and keeps the others.
  r = sh("$SKVQ convert --model " + model_ + " --out " + p("old"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(skvq::read_file(p("old/notes.txt")), "keep me\n");
  EXPECT_EQ(skvq::load_model(p("old")).sha256, skvq::sha256_file(p("old/model.safetensors")));
  EXPECT_TRUE(fs::exists(p("old/tokenizer.json")));
  EXPECT_TRUE(contains(r.out, "wrote " + p("old/config.json"))) << r.out;
}

TEST_F(CliInput, ConvertWithABadTokenizerWritesNothing) {
  write_file(p("tok.bin"), "not a tokenizer");
  auto r = sh("$SKVQ convert --model " + model_ + " --tokenizer " + p("tok.bin") + " --out " + p("out"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, p("tok.bin"))) << r.out;
  EXPECT_FALSE(fs::exists(p("out")));
}

TEST_F(CliInput, NeedleExportToAMissingFolderFailsBeforeComputing) {
  auto r = sh("$SKVQ " + db() + " needle --model " + model_ + " --quant fp16 --lengths 64 --depths 50 --export " +
              p("missing/cells.json"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, p("missing/cells.json") + ": cannot be written (folder " + p("missing") +
                                  " is missing or not writable)"))
      << r.out;
  EXPECT_FALSE(fs::exists(p("runs.sqlite")));  // nothing was computed or stored
}
