/*
 * lightning/uiRelatedListApi for Jest: wire adapters that tests drive with
 * emit()/error() and whose last configuration they read with getLastConfig().
 */
import { createLdsTestWireAdapter } from '@salesforce/wire-service-jest-util';

export const getRelatedListRecords = createLdsTestWireAdapter(jest.fn());
export const getRelatedListRecordsBatch = createLdsTestWireAdapter(jest.fn());
export const getRelatedListInfo = createLdsTestWireAdapter(jest.fn());
export const getRelatedListInfoBatch = createLdsTestWireAdapter(jest.fn());
export const getRelatedListsInfo = createLdsTestWireAdapter(jest.fn());
export const getRelatedListCount = createLdsTestWireAdapter(jest.fn());
