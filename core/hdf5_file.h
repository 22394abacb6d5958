// The project's one HDF5 helper layer: a thin RAII wrapper over the HDF5 C library for the
// few things shardlab files need (experience files, activation logs). Every failure becomes a
// FileError whose message is one line naming the file and the object; HDF5's own error stack
// is never printed. hdf5.h stays out of this header: the implementation is core/hdf5_*.cpp,
// split by job, with its shared internals in core/hdf5_internal.h.
//
// Datasets are grown row by row: a dataset of row shape (C, H, W) has shape (N, C, H, W) with
// an unlimited first dimension, is chunked, and is optionally gzip-compressed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shardlab {

// What a dataset stores on disk. kBool is stored the way h5py stores numpy bool (an enum over
// int8 with FALSE=0, TRUE=1), so h5py reads it back as dtype bool.
enum class Hdf5Type { kFloat32, kFloat64, kInt8, kInt32, kInt64, kUint8, kBool };

// numpy's name for the type: "float32", "bool", ...
const char* hdf5_type_name(Hdf5Type type);

// How a stored element can be read. Enums other than h5py's bool read as kInteger.
enum class Hdf5Class { kInteger, kFloat, kBool, kString, kOther };

struct Hdf5DatasetOptions {
  // Chunk shape including the row dimension, e.g. {16, 1, H, W} for an (N, C, H, W) activation
  // log so one channel is read without touching the others. Empty: whole rows, as many as fit
  // in chunk_bytes.
  std::vector<int64_t> chunk_shape;
  int64_t chunk_bytes = 256 * 1024;
  int gzip_level = 3;   // 0: uncompressed; 3 is as fast as 1 on our data (bench/bench_hdf5.cpp)
  bool shuffle = true;  // byte shuffle before gzip; helps floats
};

struct Hdf5DatasetInfo {
  std::vector<int64_t> shape;
  std::string dtype;  // numpy-style name: "float64", "int32", "bool", "string", "compound", ...
  Hdf5Class element_class = Hdf5Class::kOther;

  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  // Shape without the first dimension.
  std::vector<int64_t> row_shape() const {
    return shape.empty() ? shape : std::vector<int64_t>(shape.begin() + 1, shape.end());
  }
};

// An attribute with its value formatted for people (strings quoted, arrays in brackets).
struct Hdf5Attribute {
  std::string name;
  std::string value;
};

// One entry of a recursive listing.
struct Hdf5Member {
  enum class Kind { kGroup, kDataset, kNamedType, kSoftLink, kExternalLink, kOther };
  std::string path;  // absolute, "/" for the root
  Kind kind = Kind::kOther;
  int depth = 0;  // 0 for the root
  // Datasets only.
  std::vector<int64_t> shape;
  std::string dtype;
  std::vector<int64_t> chunk_shape;  // empty: contiguous
  std::string filters;               // e.g. "shuffle, gzip 4"; empty: none
  std::string link_target;           // soft and external links
  std::vector<Hdf5Attribute> attributes;
};

template <typename T>
struct Hdf5Array {
  std::vector<T> data;  // row-major
  std::vector<int64_t> shape;
};

// An open HDF5 file. Object paths are relative to the root ("infos/seed") or absolute; "/" (or
// "") is the root group. Element types T for reading and appending: float, double, int8_t,
// uint8_t, int32_t, int64_t. Reading converts from the stored type (float64 -> float32,
// int32 -> int64, h5py bool / int8 / uint8 -> uint8, ...).
class Hdf5File {
 public:
  // Opens an existing file read-only.
  static Hdf5File open(const std::string& path);
  // Creates a file, truncating an existing one.
  static Hdf5File create(const std::string& path);
  // Creates a file that must not exist yet.
  static Hdf5File create_new(const std::string& path);

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&& other) noexcept;
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;
  ~Hdf5File();  // closes, ignoring errors: call close() to see them

  // Flushes and closes; throws FileError if that fails. Further calls are no-ops.
  void close();
  bool is_open() const;
  const std::string& path() const;

  bool has_group(const std::string& object) const;
  bool has_dataset(const std::string& object) const;
  // Names (not paths) of a group's direct members, sorted.
  std::vector<std::string> member_names(const std::string& group) const;
  // Creates the group and any missing parents; an existing group is fine.
  void create_group(const std::string& group);

  // Creates an empty, extendable dataset of shape (0, row_shape...) (missing parent groups too).
  void create_dataset(const std::string& dataset, Hdf5Type type, const std::vector<int64_t>& row_shape,
                      const Hdf5DatasetOptions& options = {});
  // Appends `rows` rows of row-major data (rows * row size values).
  template <typename T>
  void append(const std::string& dataset, const T* data, int64_t rows);
  // Appends data.size() / row size rows; the size must be a whole number of rows.
  template <typename T>
  void append(const std::string& dataset, const std::vector<T>& data);

  Hdf5DatasetInfo dataset_info(const std::string& dataset) const;
  template <typename T>
  Hdf5Array<T> read(const std::string& dataset) const;
  // Rows [begin, begin + count).
  template <typename T>
  Hdf5Array<T> read_rows(const std::string& dataset, int64_t begin, int64_t count) const;
  // Any hyperslab: start and count have one entry per dimension.
  template <typename T>
  Hdf5Array<T> read_slab(const std::string& dataset, const std::vector<int64_t>& start,
                         const std::vector<int64_t>& count) const;

  // Attributes on the root ("/"), a group or a dataset. Setting replaces an existing attribute.
  // Strings are stored as h5py stores str (variable-length UTF-8), so h5py reads them as str.
  void set_string_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_int_attribute(const std::string& object, const std::string& name, int64_t value);
  void set_double_attribute(const std::string& object, const std::string& name, double value);
  void set_int_array_attribute(const std::string& object, const std::string& name, const std::vector<int64_t>& value);
  void set_double_array_attribute(const std::string& object, const std::string& name, const std::vector<double>& value);
  bool has_attribute(const std::string& object, const std::string& name) const;
  // Getters throw FileError if the attribute is missing or of another kind. Numbers convert
  // (an int32 attribute reads as int64, an integer one as double).
  std::string string_attribute(const std::string& object, const std::string& name) const;
  int64_t int_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  std::vector<int64_t> int_array_attribute(const std::string& object, const std::string& name) const;
  std::vector<double> double_array_attribute(const std::string& object, const std::string& name) const;
  // Every attribute of an object, by name, values formatted for people.
  std::vector<Hdf5Attribute> attributes(const std::string& object) const;

  // The root and everything below it, depth first, members sorted by name.
  std::vector<Hdf5Member> list() const;

 private:
  struct Impl;
  explicit Hdf5File(std::unique_ptr<Impl> impl);
  Impl& impl() const;
  std::unique_ptr<Impl> impl_;
};

// "(N,)" / "(N, 3, 25, 25)" / "()", as numpy prints shapes.
std::string format_shape(const std::vector<int64_t>& shape);

// Whether HDF5 failed to close a file or release an object it holds (a write that failed on a
// full disk leaves a dataset whose chunks cannot be flushed). HDF5's own clean-up at exit then
// crashes in H5D_close, so a command that ends on an error skips it (cli/main.cpp) when this is
// true: its files were temporaries, removed already.
bool hdf5_objects_left_open();

}  // namespace shardlab
