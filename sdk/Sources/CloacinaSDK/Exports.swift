// Everything a workflow author needs comes with `import CloacinaSDK`.
@_exported public import CloacinaJSON
@_exported public import CloacinaModel
