// Private to the HDF5 helper layer (core/hdf5_*.cpp): the Impl behind Hdf5File, the id owner,
// HDF5 error-stack helpers and the mapping between HDF5 types and the layer's. Nothing outside
// core/hdf5_*.cpp includes this; hdf5.h stays out of the public core/hdf5_file.h.
//
// The layer is split by job: hdf5_file.cpp (files, groups, these helpers), hdf5_write.cpp
// (create_dataset, append), hdf5_read.cpp (dataset_info, read*), hdf5_attributes.cpp (set / get
// attributes, attributes()) and hdf5_describe.cpp (list()).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/hdf5_file.h"

namespace shardlab {
namespace hdf5_internal {

// HDF5 prints its error stack to stderr by default. The setting is per thread in thread-safe
// builds (Debian's), so every entry point turns it off again; it costs a few nanoseconds.
inline void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Records that HDF5 could not release an object (hdf5_objects_left_open(), core/hdf5_file.h).
void note_object_left_open();

// What HDF5 said about the failure that just happened (its innermost message), on one line.
std::string hdf5_reason();

// Owns one HDF5 id (dataset, group, dataspace, datatype, property list, attribute).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, -1)) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }

  void reset() {
    if (id_ >= 0 && H5Idec_ref(id_) < 0) note_object_left_open();
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

std::string quoted(const std::string& object);
// "/a/b" and "a/b" name the same object; "" and "/" the root.
std::string normalized(const std::string& object);
// The normalized name, "/" for the root.
std::string display_name(const std::string& object);

// The in-memory HDF5 type of the element types the layer reads and appends.
template <typename T>
hid_t memory_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, int8_t>) return H5T_NATIVE_INT8;
  if constexpr (std::is_same_v<T, uint8_t>) return H5T_NATIVE_UINT8;
  if constexpr (std::is_same_v<T, int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, int64_t>) return H5T_NATIVE_INT64;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int8_t> ||
                    std::is_same_v<T, uint8_t> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>,
                "Hdf5File reads and appends float, double, int8_t, uint8_t, int32_t and int64_t");
}

// The enum h5py uses for numpy bool, over `base` (H5T_STD_I8LE on disk, H5T_NATIVE_INT8 in memory).
Id make_bool_type(hid_t base);
bool is_bool_enum(hid_t type);
// numpy-style name of a stored type: "float32", "bool", "string", "compound", ...
std::string type_name(hid_t type);
Hdf5Class class_of(hid_t type);

// The dimensions of a dataspace; a scalar has none.
std::vector<int64_t> dimensions(hid_t space);
// Product of dims, or -1 if it overflows.
int64_t element_count(const std::vector<int64_t>& dims);

// Reads one integer of `size` bytes from raw memory in native byte order.
int64_t load_signed(const unsigned char* p, size_t size);
uint64_t load_unsigned(const unsigned char* p, size_t size);

// 10 significant digits.
std::string format_number(double value);

// A creation property list of `plist_class` (file, group or dataset creation) that keeps links
// and attributes in the object header, under its checksum, instead of moving them to a fractal
// heap (whose blocks HDF5 does not checksum) once there are more than 8.
Id checksummed_creation(hid_t plist_class);

}  // namespace hdf5_internal

struct Hdf5File::Impl {
  using Id = hdf5_internal::Id;

  // A dataset kept open while it is being appended to, so its chunk cache keeps the partly
  // filled last chunk instead of compressing and rewriting it on every append.
  struct AppendTarget {
    Id dataset;
    int64_t rows = 0;
    std::vector<int64_t> row_shape;
    int64_t row_size = 1;
    bool is_bool = false;
  };

  std::string path;
  hid_t file = -1;
  bool writable = false;
  std::map<std::string, AppendTarget> append_targets;  // by normalized path

  // Files and objects (hdf5_file.cpp).
  [[noreturn]] void fail(const std::string& what, bool with_reason = true) const;
  hid_t id() const;
  void require_writable(const std::string& what) const;
  // True if every link on the way to `object` exists (the root always does).
  bool link_exists(const std::string& object) const;
  H5I_type_t object_type(const std::string& object) const;
  Id open_object(const std::string& object) const;
  Id open_dataset(const std::string& dataset) const;
  Id open_group(const std::string& group) const;
  // Creates the missing groups on the way to `object` (not `object` itself).
  void create_parents(const std::string& object);

  // Writing (hdf5_write.cpp).
  AppendTarget& append_target(const std::string& dataset);
  template <typename T>
  void append(const std::string& dataset, const T* data, int64_t rows);

  // Reading (hdf5_read.cpp). The whole dataset, or the slab at `start` of shape `count`.
  template <typename T>
  Hdf5Array<T> read(const std::string& dataset, const std::vector<int64_t>* start,
                    const std::vector<int64_t>* count) const;

  // Attributes (hdf5_attributes.cpp).
  Id open_attribute(const std::string& object, const std::string& name) const;
  void write_attribute(const std::string& object, const std::string& name, hid_t file_type, hid_t memory, hid_t space,
                       const void* data);
  // An attribute's values as strings (string attributes only).
  std::vector<std::string> attribute_strings(hid_t attribute, const std::string& what) const;
  // A numeric attribute's values converted to T (integers, floats and enums).
  template <typename T>
  std::vector<T> attribute_numbers(hid_t attribute, const std::string& what) const;
  // Reads an attribute for a typed getter, checking its class and (for scalars) its size.
  template <typename T>
  std::vector<T> typed_attribute(const std::string& object, const std::string& name, bool allow_float,
                                 bool scalar) const;
  std::string format_attribute(hid_t attribute, const std::string& what) const;
  std::vector<Hdf5Attribute> attributes_of(hid_t object) const;

  // Listing (hdf5_describe.cpp).
  void describe_dataset(hid_t dataset, Hdf5Member& member) const;
  void visit(hid_t group, const std::string& path, int depth, std::vector<Hdf5Member>& out) const;
};

}  // namespace shardlab
