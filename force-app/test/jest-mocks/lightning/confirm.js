/*
 * lightning/confirm (LightningConfirm) for Jest. open() resolves true (OK) by
 * default; a test chooses the answer with LightningConfirm.open.mockResolvedValue.
 */
const LightningConfirm = {
    open: jest.fn().mockResolvedValue(true)
};

export default LightningConfirm;
