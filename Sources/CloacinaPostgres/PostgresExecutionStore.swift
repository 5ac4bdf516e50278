internal import CPostgreSQL
public import CloacinaStorage
